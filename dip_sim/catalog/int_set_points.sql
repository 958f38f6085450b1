-- Points set by negotiation, the rest rescaled so that total history points
-- Σ_g W_g·rw_g stay the same (W_g: Σ of the year weights of group g's history cases):
--   k = (T − Σ_F W_f·rw'_f) ÷ (T − Σ_F W_f·rw_f), T = Σ_g W_g·rw_g, F = the negotiated groups;
-- every other group's rw × k. The budget point value (history cost ÷ history points) is
-- unchanged. rw_computed keeps the value before; adjusted_by names the adjustments (the
-- rescaled groups: 'A3:rescale').
SELECT s.group_code, s.rw, s.adjustment_id
FROM run_set_points s JOIN run_adjustments a USING (adjustment_id)
WHERE s.group_code IN (SELECT group_code FROM int_catalog_computed)
-- two adjustments of one group: the later in the file wins
QUALIFY row_number() OVER (PARTITION BY s.group_code ORDER BY a.seq DESC) = 1
