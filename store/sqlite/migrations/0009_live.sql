-- 0009: live conversations. live_until is when the visitor stops counting as
-- on the site (microseconds since the epoch; the zero time, year 1, means
-- never live). The Server renews it while the visitor's widget is connected;
-- only live conversations take an operator's capacity and are routed.
ALTER TABLE conversations ADD COLUMN live_until INTEGER NOT NULL DEFAULT -62135596800000000;
