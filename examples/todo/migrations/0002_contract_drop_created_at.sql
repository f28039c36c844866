-- Contract (after promote: --post-promote-command): remove what only the old version used.
-- Assumes the promoted version no longer reads `created_at`. Run in the release phase this
-- would break the old version, so the lint refuses it there unless --allow-destructive.
ALTER TABLE todos DROP COLUMN created_at;
