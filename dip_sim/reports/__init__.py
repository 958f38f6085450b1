"""The Excel reports and printed comparisons: the catalogue for the panel, catalogue diffs,
scenario comparisons, the quality and supervision reports, the settlement statements."""

# one row per hospital: its name and level (a hospital may be listed in several loads), for
# joining names onto results: ``LEFT JOIN {HOSPITAL_NAMES} h USING (hospital_id)``
HOSPITAL_NAMES = ("(SELECT hospital_id, any_value(hospital_name) AS hospital_name, "
                  "any_value(level) AS level FROM hospitals GROUP BY ALL)")
