-- The History search: the words of each path (separators made spaces), in a GIN index, so a search of
-- 100,000 files does not read them all. The query narrows by words here, then keeps the exact substring.
CREATE FUNCTION path_words(text) RETURNS tsvector LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN to_tsvector('simple'::regconfig, translate(coalesce($1, ''), '/\._-()[]{},+', '              '));
CREATE INDEX transcodes_search ON transcodes USING gin ((path_words(path) || path_words(output_path)));
