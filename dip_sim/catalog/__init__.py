"""Grouping (病种分组): the catalogue from the history years, and every case's group."""
