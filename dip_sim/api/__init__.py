"""The 预分组 HTTP API for hospitals' HIS: grouping request rows with the pipeline's SQL
(:mod:`.grouper`), API keys (:mod:`.keys`), request and answer models (:mod:`.schemas`) and the
routes (:mod:`.app`)."""
