-- 0006: claims (Store.Claim), so that nodes sharing the database do a
-- thing once: a trigger's message per visit, an invitation's acceptance.
-- expires is in microseconds since the epoch, like every time here; an
-- expired row is taken again by the next claim of its key.
CREATE TABLE claims (
	key     TEXT PRIMARY KEY,
	expires INTEGER NOT NULL
) WITHOUT ROWID;
