-- Make one column of a new staging table nullable (a batch may leave it out).
ALTER TABLE {stage} ALTER COLUMN {column} DROP NOT NULL
