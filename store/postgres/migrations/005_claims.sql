-- 005: claims (Store.Claim), so that nodes sharing the database do a thing
-- once: a trigger's message per visit, an invitation's acceptance. An
-- expired row is taken again by the next claim of its key.
CREATE TABLE chat_claims (
    key     text COLLATE "C" PRIMARY KEY,
    expires timestamptz NOT NULL
);
