-- Expand (release phase: --release-sql): what the new version needs, tolerated by the old one.
-- The old version never names `priority`, so its SELECTs ignore it and its INSERTs get the
-- default. A constant default is stored once (PostgreSQL 11+): no rewrite, no long lock.
ALTER TABLE todos ADD COLUMN priority int NOT NULL DEFAULT 0;
