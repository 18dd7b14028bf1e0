-- 0010: reserved for another branch's migration (issue 18's API branch owns
-- 0011). This placeholder keeps the numbering without gaps on its own; the
-- merge replaces it with the real 0010.
SELECT 1;
