-- the base type of each dimension: where the sub-types too small to stand alone go
SELECT * FROM (VALUES ('cci', '无'), ('severity', '轻度'), ('tumour', '无'), ('age', '18–64岁'),
                      ('icu', '无'))
    AS t(dimension, base)
