-- 0008: a run of an annotated tag records the tag object's id next to the
-- commit it points at. GitHub and Gitea name an annotated tag's push by
-- the tag object (`after`); the worker peels it to the commit it builds
-- (commit_sha) and keeps the pushed id here. GitLab sends both.
ALTER TABLE runs ADD COLUMN tag_object TEXT;
