-- Additive only, so the previous release keeps working during a canary (expand/contract).
ALTER TABLE items ADD COLUMN quantity INTEGER NOT NULL DEFAULT 0 CHECK (quantity >= 0);
