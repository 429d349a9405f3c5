//! The fleet server's schema: versioned migrations (append-only; each runs
//! once, in a transaction, under an advisory lock) and the SQL that gives a
//! machine (or an organisation) its own least-privilege role.
//!
//! Everything lives in the schema `certwatch`. Machines write rows of
//! `certwatch.sightings` only through row-level security: a role may insert
//! rows for the machine ids `certwatch.members` grants it, and may read back
//! only the rows it inserted. What the fleet saw is read through
//! `SECURITY DEFINER` functions that return aggregates (per site and CA
//! operator: machine counts and dates), never another machine's rows.

/// The schema version this build writes and reads.
pub const VERSION: i32 = 1;

/// Migration `n` is `MIGRATIONS[n - 1]`.
pub const MIGRATIONS: &[&str] = &[r#"
CREATE SCHEMA IF NOT EXISTS certwatch;
CREATE TABLE certwatch.members (
    role name PRIMARY KEY,
    -- NULL: an organisation role that may write for any machine id.
    machine_id text
);
CREATE TABLE certwatch.sightings (
    machine_id text NOT NULL,
    sighting_id text NOT NULL,
    site text NOT NULL,
    operator text NOT NULL,
    ca_name text NOT NULL,
    network text NOT NULL DEFAULT '',
    seen_at timestamptz NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    inserted_by name NOT NULL DEFAULT current_user,
    PRIMARY KEY (machine_id, sighting_id)
);
CREATE INDEX sightings_by_site ON certwatch.sightings (site, operator, seen_at);
CREATE INDEX sightings_by_time ON certwatch.sightings (seen_at);

CREATE FUNCTION certwatch.may_write(who name, machine text) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = certwatch, pg_temp AS $$
    SELECT EXISTS (SELECT 1 FROM members m
                   WHERE m.role = who AND (m.machine_id IS NULL OR m.machine_id = machine))
$$;

ALTER TABLE certwatch.sightings ENABLE ROW LEVEL SECURITY;
CREATE POLICY insert_own ON certwatch.sightings FOR INSERT
    WITH CHECK (inserted_by = current_user AND certwatch.may_write(current_user, machine_id));
CREATE POLICY read_own ON certwatch.sightings FOR SELECT
    USING (inserted_by = current_user);

-- Per CA operator of one site: machines (ever, and since p_since), dates;
-- site_recent: distinct machines that saw the site since p_since. Rows of
-- the machine p_exclude are left out ('' leaves out none).
CREATE FUNCTION certwatch.site_view(p_site text, p_exclude text, p_since timestamptz)
RETURNS TABLE (operator text, ca_name text, machines bigint, recent_machines bigint,
               first_seen timestamptz, last_seen timestamptz, site_recent bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = certwatch, pg_temp AS $$
    SELECT s.operator, max(s.ca_name), count(DISTINCT s.machine_id),
           count(DISTINCT s.machine_id) FILTER (WHERE s.seen_at >= p_since),
           min(s.seen_at), max(s.seen_at),
           (SELECT count(DISTINCT t.machine_id) FROM sightings t
             WHERE t.site = p_site AND t.machine_id <> p_exclude AND t.seen_at >= p_since)
      FROM sightings s
     WHERE s.site = p_site AND s.machine_id <> p_exclude
     GROUP BY s.operator
     ORDER BY 3 DESC, 1
$$;

-- Sites where one machine alone ever saw an operator, recently, while at
-- least two other machines saw another operator since p_since.
CREATE FUNCTION certwatch.outliers(p_since timestamptz)
RETURNS TABLE (site text, operator text, ca_name text, machine_id text,
               network text, last_seen timestamptz, others bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = certwatch, pg_temp AS $$
    WITH per AS (
        SELECT s.site, s.operator, max(s.ca_name) AS ca_name,
               count(DISTINCT s.machine_id) AS n, min(s.machine_id) AS m,
               max(s.network) AS network, max(s.seen_at) AS last
          FROM sightings s GROUP BY s.site, s.operator
    ), judged AS (
        SELECT p.site, p.operator, p.ca_name, p.m, p.network, p.last,
               (SELECT count(DISTINCT r.machine_id) FROM sightings r
                 WHERE r.site = p.site AND r.operator <> p.operator
                   AND r.machine_id <> p.m AND r.seen_at >= p_since) AS others
          FROM per p WHERE p.n = 1 AND p.last >= p_since
    )
    SELECT * FROM judged WHERE others >= 2 ORDER BY last DESC
$$;

CREATE FUNCTION certwatch.status()
RETURNS TABLE (machines bigint, sites bigint, sightings bigint, last_received timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = certwatch, pg_temp AS $$
    SELECT count(DISTINCT machine_id), count(DISTINCT site), count(*), max(received_at)
      FROM sightings
$$;

REVOKE ALL ON FUNCTION certwatch.site_view(text, text, timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION certwatch.outliers(timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION certwatch.status() FROM PUBLIC;
"#];

/// The SQL an administrator runs (as the schema's owner) to let `role` log
/// in as one machine (`machine = Some(id)`: it may write only that machine
/// id's rows) or as an organisation (`None`: any machine id). The role gets
/// no password here: set one with `\password` or use certificate or peer
/// authentication (pg_hba.conf).
pub fn role_sql(role: &str, machine: Option<&str>) -> String {
    let r = quote_ident(role);
    let m = machine.map_or("NULL".to_string(), quote_literal);
    format!(
        "CREATE ROLE {r} LOGIN;\n\
         GRANT USAGE ON SCHEMA certwatch TO {r};\n\
         GRANT INSERT, SELECT ON certwatch.sightings TO {r};\n\
         GRANT EXECUTE ON FUNCTION certwatch.site_view(text, text, timestamptz),\n    \
         certwatch.outliers(timestamptz), certwatch.status() TO {r};\n\
         INSERT INTO certwatch.members (role, machine_id) VALUES ({}, {m});\n",
        quote_literal(role)
    )
}

/// `"ident"` with embedded quotes doubled.
pub fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// `'literal'` with embedded quotes doubled.
pub fn quote_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_migration_per_version() {
        assert_eq!(MIGRATIONS.len(), VERSION as usize);
    }

    #[test]
    fn role_sql_quotes_names() {
        let sql = role_sql("m\"1", Some("id'x"));
        assert!(sql.contains("CREATE ROLE \"m\"\"1\" LOGIN;"), "{sql}");
        assert!(sql.contains("VALUES ('m\"1', 'id''x')"), "{sql}");
        assert!(role_sql("org", None).contains("VALUES ('org', NULL)"));
    }
}
