-- A migration that breaks the running version: v1 and v2 read `title`. The release phase's lint
-- refuses it (renaming-column); with --allow-destructive, the compatibility check still refuses
-- it because the production image fails against the migrated copy of the database.
ALTER TABLE todos RENAME COLUMN title TO name;
