"""Scoring (病例分值): each case's points with its hospital's coefficient and cost band, new
technology, 特例单议 and ungrouped cases."""
