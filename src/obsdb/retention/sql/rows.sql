-- Every row of one partition, in key order (the archive's order; its checksum depends on it).
SELECT * FROM ONLY {partition} ORDER BY {key}
