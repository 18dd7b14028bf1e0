-- Placeholder on branch issue18-bots only: the loaders need numbers without
-- gaps and this number belongs to another branch. Delete it when the real
-- migration of this number is merged.
SELECT 1;
