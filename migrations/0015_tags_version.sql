-- 0015: repositories.tags_version, a value that changes whenever the set
-- of a repository's tag names changes: a tag added or removed, also by
-- cascade (a manifest or repository deleted, garbage collection). Moving a
-- tag to another digest leaves the names, and the value, as they were.
--
-- The server keeps its answers to tags/list under (repository, value,
-- page), so every front end sharing the database sees a tag pushed through
-- another at once (server/oci.c). A random value rather than a counter: a
-- repository deleted and made again may get the same id, and must not
-- find an answer kept for the old one; 0 means no tag was ever added.
ALTER TABLE repositories ADD COLUMN tags_version BIGINT NOT NULL DEFAULT 0;
-- repositories that have tags already
UPDATE repositories SET tags_version = random() WHERE id IN (SELECT repo_id FROM tags);

CREATE TRIGGER tags_version_insert AFTER INSERT ON tags BEGIN
    UPDATE repositories SET tags_version = random() WHERE id = NEW.repo_id;
END;

CREATE TRIGGER tags_version_delete AFTER DELETE ON tags BEGIN
    UPDATE repositories SET tags_version = random() WHERE id = OLD.repo_id;
END;

CREATE TRIGGER tags_version_rename AFTER UPDATE OF name ON tags BEGIN
    UPDATE repositories SET tags_version = random() WHERE id = NEW.repo_id;
END;
