-- The moment a pending call is certainly over, wherever it runs (created_at + its time limit + grace + margin,
-- lib.limits.pending_deadline_s): past it, any replica settles the row as 'interrupted', even one on another
-- machine that cannot see whether the sending process lives. NULL for rows from before (the 30-minute rule).
ALTER TABLE calls ADD COLUMN deadline_at TEXT;
