"""Reports for the bureau and the hospitals: scenario comparison and settlement statements."""
