-- Does the table hold any row? (One index or heap probe; identifiers come from obsdb's layout.)
SELECT EXISTS (SELECT 1 FROM {table})
