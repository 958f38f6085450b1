"""Points (病例分值): case points with level coefficients and cost outliers."""
