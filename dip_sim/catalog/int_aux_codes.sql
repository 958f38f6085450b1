-- each other diagnosis once per case
SELECT DISTINCT case_id, main_dx, trim(code) AS code
FROM (SELECT case_id, main_dx, unnest(string_split(other_dx, ';')) AS code
      FROM int_aux_cases WHERE other_dx IS NOT NULL AND other_dx <> '')
