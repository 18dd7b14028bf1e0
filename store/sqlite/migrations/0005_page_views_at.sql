-- 0005: page views over a period, for reports' conversion figures
-- (PageViewVisitors). Page views are the bulk table, so without it every
-- report would scan all of them; with visitor_id the index covers the
-- query.
CREATE INDEX page_views_at ON page_views (at, visitor_id);
