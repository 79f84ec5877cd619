-- 0015 (PostgreSQL): repositories.tags_version; see
-- migrations/0015_tags_version.sql. PostgreSQL's triggers call a function;
-- random() is a double in [0, 1), scaled to the 53 bits it carries.
ALTER TABLE repositories ADD COLUMN tags_version BIGINT NOT NULL DEFAULT 0;
-- repositories that have tags already
UPDATE repositories SET tags_version = (random() * 9007199254740992)::bigint
 WHERE id IN (SELECT repo_id FROM tags);

CREATE FUNCTION tags_version_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE repositories SET tags_version = (random() * 9007199254740992)::bigint
     WHERE id = CASE WHEN TG_OP = 'DELETE' THEN OLD.repo_id ELSE NEW.repo_id END;
    RETURN NULL;
END
$$;

CREATE TRIGGER tags_version AFTER INSERT OR DELETE OR UPDATE OF name ON tags
    FOR EACH ROW EXECUTE FUNCTION tags_version_bump();
