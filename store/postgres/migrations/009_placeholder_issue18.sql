-- 009: reserved for another branch's migration (issue 18's API branch owns
-- 010). This placeholder keeps the numbering without gaps on its own; the
-- merge replaces it with the real 009.
SELECT 1;
