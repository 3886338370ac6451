// Nullifier.java — the submission create of seed 002, in Java over JDBC: a
// nullifier may be spent once (409 for a second submission), and a retry of
// a request (same idempotency key) gets the submission it created (200)
// (examples/README.md).
//
//   Nullifier fixed           one transaction: key lookup, nullifier check,
//                             insert, on a table with unique constraints; a
//                             unique violation (23505) resolved by re-reading
//                             the key: the caller's own request (200) or 409
//   Nullifier no-constraint   the seed's before: check-then-insert in
//                             autocommit statements, no constraints
//                             (run it on setup-no-constraint.sql)
//   Nullifier unmapped-23505  the seed's fix as written: transaction, key
//                             lookup, constraints, but a 23505 is a 500
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.Map;

public final class Nullifier {
    public static void main(String[] args) throws SQLException {
        Worker.run("Nullifier", 500, args, Map.of(
            "fixed", conn -> "id=" + create(conn),
            "no-constraint", conn -> "id=" + submit(conn, false),
            "unmapped-23505", conn -> "id=" + Worker.inTransaction(conn, () -> submit(conn, false))));
    }

    static Worker.Refused duplicate() {
        return new Worker.Refused(409, "duplicate nullifier");
    }

    /** Worker w's submission in iteration i: every worker plays role i % 3 —
     * racers (one nullifier, a key each), retriers (one request sent N times)
     * or reusers (one key reused for a nullifier each). */
    static String[] request() {
        String w = System.getenv("PGRACE_WORKER");
        return switch (Worker.env("PGRACE_ITERATION") % 3) {
            case 0 -> new String[] {"nf-race", "key-w" + w};
            case 1 -> new String[] {"nf-retry", "key-retry"};
            default -> new String[] {"nf-reuse-w" + w, "key-reuse"};
        };
    }

    /** The fixed form: the submission in one transaction, a unique violation
     * resolved by the key. */
    static long create(Connection conn) throws SQLException, Worker.Refused {
        try {
            return Worker.inTransaction(conn, () -> submit(conn, true));
        } catch (SQLException e) {
            if (!"23505".equals(e.getSQLState())) {
                throw e;
            }
            // A concurrent insert won (it is committed now): the caller's own
            // request when it holds the key, else a double spend.
            Long mine = byKey(conn, request()[1]);
            if (mine == null) {
                throw duplicate();
            }
            return mine;
        }
    }

    /** The submission holding key, or null. */
    static Long byKey(Connection conn, String key) throws SQLException {
        try (PreparedStatement s = conn.prepareStatement("SELECT id FROM submissions WHERE idempotency_key = ?")) {
            s.setString(1, key);
            try (ResultSet r = s.executeQuery()) {
                return r.next() ? r.getLong(1) : null;
            }
        }
    }

    /** Looks the key up (a retry: its submission), checks the nullifier and
     * inserts; returns the submission's id. */
    static long submit(Connection conn, boolean ownKey) throws SQLException, Worker.Refused {
        String nullifier = request()[0], key = request()[1];
        Long mine = byKey(conn, key);
        if (mine != null) {
            return mine;
        }
        try (PreparedStatement s = conn.prepareStatement(
                "SELECT id, coalesce(idempotency_key, '') FROM submissions WHERE nullifier = ?")) {
            s.setString(1, nullifier);
            try (ResultSet r = s.executeQuery()) {
                if (r.next()) {
                    // Each statement reads its own snapshot: the caller's own
                    // request may have committed since the key lookup. Its row
                    // is the caller's submission, not a double spend.
                    if (ownKey && r.getString(2).equals(key)) {
                        return r.getLong(1);
                    }
                    throw duplicate();
                }
            }
        }
        try (PreparedStatement s = conn.prepareStatement(
                "INSERT INTO submissions (nullifier, idempotency_key) VALUES (?, ?) RETURNING id")) {
            s.setString(1, nullifier);
            s.setString(2, key);
            try (ResultSet r = s.executeQuery()) {
                r.next();
                return r.getLong(1);
            }
        }
    }
}
