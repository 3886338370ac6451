// EnvMerge.java — PATCH /stacks/:slug/env of seed 003, in Java over JDBC:
// merge a delta into a stack's env (a jsonb object; an empty value deletes
// its key), 64 KiB cap, no change to a stack being torn down
// (examples/README.md).
//
//   EnvMerge fixed   one transaction (#235 + #238): SET LOCAL lock_timeout,
//                    SELECT status, env ... FOR UPDATE, refuse a deleting
//                    stack under the lock, merge here, the cap before the
//                    write, write, commit; the count counts real upserts
//   EnvMerge rmw     before #235: the handler's status pre-read, an unlocked
//                    env read, merge here, a blind overwrite (concurrent
//                    merges lose each other's keys); count len(delta) - deletes
//
// The JDK has no JSON: the env is read as key-value pairs (jsonb_each_text)
// and written as compact JSON text, which is also what the cap measures.
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Collectors;

public final class EnvMerge {
    private static final String SLUG = "stack";
    private static final int ENV_CAP = 64 << 10;

    public static void main(String[] args) throws SQLException {
        Worker.run("EnvMerge", 503, args, Map.of("fixed", EnvMerge::mergeFixed, "rmw", EnvMerge::mergeRmw));
    }

    /** Worker w's PATCH body: sets k<w>, deletes old<w> (present) and gone<w>
     * (never present). Near the cap (every 5th iteration) values are big, so
     * that about half of the merges fit. */
    static Map<String, String> delta() {
        int w = Worker.env("PGRACE_WORKER"), n = Worker.env("PGRACE_WORKERS");
        String value = "v" + w + "-";
        if (Worker.env("PGRACE_ITERATION") % 5 == 0) {
            value += "x".repeat(Math.min(ENV_CAP / (4 * n), 2048) - value.length());
        }
        return Map.of("k" + w, value, "old" + w, "", "gone" + w, "");
    }

    /** Applies delta to env and returns its counts: the keys set and the
     * deleted keys that were present (honest), or len(delta) - deletes as
     * before #238. */
    static String merge(Map<String, String> env, Map<String, String> delta, boolean honest) {
        int set = 0, deleted = 0;
        for (Map.Entry<String, String> e : delta.entrySet()) {
            if (!e.getValue().isEmpty()) {
                env.put(e.getKey(), e.getValue());
                set++;
            } else if (env.remove(e.getKey()) != null) {
                deleted++;
            }
        }
        return "set=" + (honest ? set : delta.size() - deleted) + " deleted=" + deleted;
    }

    static String mergeFixed(Connection conn) throws SQLException, Worker.Refused {
        return Worker.inTransaction(conn, () -> {
            // First: a merge queued behind a long-held row lock fails fast (503).
            try (Statement s = conn.createStatement()) {
                s.execute("SET LOCAL lock_timeout = '3s'");
            }
            Map<String, String> env = readEnv(conn, " FOR UPDATE", true);
            String counts = merge(env, delta(), true);
            write(conn, env);
            return counts;
        });
    }

    static String mergeRmw(Connection conn) throws SQLException, Worker.Refused {
        try (PreparedStatement s = conn.prepareStatement("SELECT status FROM stacks WHERE slug = ?")) {
            s.setString(1, SLUG);
            try (ResultSet r = s.executeQuery()) {
                if (!r.next()) {
                    throw new Worker.Refused(404, "stack not found");
                }
                if (r.getString(1).equals("deleting")) {
                    throw new Worker.Refused(409, "stack is being deleted");
                }
            }
        }
        Map<String, String> env = readEnv(conn, "", false);
        String counts = merge(env, delta(), false);
        write(conn, env);
        return counts;
    }

    /** Reads the stack's env (lock: a locking clause); refuses a stack that is
     * gone (404) or, with checkStatus, being deleted (409). The pairs come in
     * an array computed from the row itself: a locking read re-evaluates it
     * on the version it waited for, where a join to jsonb_each_text(env)
     * would return the version it read before waiting (lost keys under the
     * lock: the first version of this form had that bug, and the check
     * no-lost-keys caught it in iteration 1). */
    static Map<String, String> readEnv(Connection conn, String lock, boolean checkStatus)
            throws SQLException, Worker.Refused {
        try (PreparedStatement s = conn.prepareStatement(
                "SELECT status, ARRAY(SELECT ARRAY[key, value] FROM jsonb_each_text(env)) FROM stacks WHERE slug = ?"
                + lock)) {
            s.setString(1, SLUG);
            try (ResultSet r = s.executeQuery()) {
                if (!r.next()) {
                    throw new Worker.Refused(404, "stack not found");
                }
                if (checkStatus && r.getString(1).equals("deleting")) {
                    throw new Worker.Refused(409, "stack is being deleted");
                }
                Map<String, String> env = new TreeMap<>();
                for (Object pair : (Object[]) r.getArray(2).getArray()) {
                    String[] kv = (String[]) pair;
                    env.put(kv[0], kv[1]);
                }
                return env;
            }
        }
    }

    /** Checks the cap, then overwrites the env. */
    static void write(Connection conn, Map<String, String> env) throws SQLException, Worker.Refused {
        String text = env.entrySet().stream()
            .map(e -> quote(e.getKey()) + ":" + quote(e.getValue()))
            .collect(Collectors.joining(",", "{", "}"));
        if (text.getBytes(StandardCharsets.UTF_8).length > ENV_CAP) {
            throw new Worker.Refused(413, "env too large");
        }
        try (PreparedStatement s = conn.prepareStatement("UPDATE stacks SET env = ?::jsonb WHERE slug = ?")) {
            s.setString(1, text);
            s.setString(2, SLUG);
            if (s.executeUpdate() == 0) {
                throw new Worker.Refused(404, "stack not found");
            }
        }
    }

    /** s as a JSON string. */
    static String quote(String s) {
        StringBuilder b = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            if (c == '"' || c == '\\') {
                b.append('\\').append(c);
            } else if (c < 0x20) {
                b.append(String.format("\\u%04x", (int) c));
            } else {
                b.append(c);
            }
        }
        return b.append('"').toString();
    }
}
