// Attestation.java — the attestation verify of seed 000, in Java over JDBC:
// issue a credential, promote the identity, mark the record verified and
// link the credential (examples/README.md).
//
//   Attestation fixed     one transaction: SELECT ... FOR UPDATE on the record
//                         first, the guard (verified or a linked credential)
//                         re-checked under the lock, the identity read inside,
//                         three writes, the credential handed out after COMMIT
//   Attestation no-lock   the same transaction without FOR UPDATE
//   Attestation no-tx     three autocommit writes behind an is_verified-only guard
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.Map;

public final class Attestation {
    private static final long RECORD_ID = 1;
    private static final String GUARD =
        "SELECT is_verified, credential_id IS NOT NULL, identity_id FROM attestation_records WHERE id = ?";

    public static void main(String[] args) throws SQLException {
        Worker.run("Attestation", 500, args, Map.of(
            "fixed", conn -> verify(conn, true, true),
            "no-lock", conn -> verify(conn, true, false),
            "no-tx", conn -> verify(conn, false, false)));
    }

    static String verify(Connection conn, boolean tx, boolean lock) throws SQLException, Worker.Refused {
        // Fast-fail before the transaction (no-tx: its only guard, on
        // is_verified alone); the guard under the lock is the one that counts.
        long identity = guard(conn, GUARD, tx);
        long credential = !tx ? writes(conn, identity) : Worker.inTransaction(conn, () ->
            writes(conn, guard(conn, lock ? GUARD + " FOR UPDATE" : GUARD, true)));
        return "credential=" + credential;
    }

    /** Reads the record; refuses it when verified (or, with credential, when it
     * holds a linked credential). Returns its identity. */
    static long guard(Connection conn, String sql, boolean credential) throws SQLException, Worker.Refused {
        try (PreparedStatement s = conn.prepareStatement(sql)) {
            s.setLong(1, RECORD_ID);
            try (ResultSet r = s.executeQuery()) {
                if (!r.next()) {
                    throw new Worker.Refused(404, "record not found");
                }
                if (r.getBoolean(1) || (credential && r.getBoolean(2))) {
                    throw new Worker.Refused(409, "already verified");
                }
                return r.getLong(3);
            }
        }
    }

    /** Checks the identity, then makes the three writes; returns the credential. */
    static long writes(Connection conn, long identity) throws SQLException, Worker.Refused {
        try (PreparedStatement s = conn.prepareStatement("SELECT active FROM identities WHERE id = ?")) {
            s.setLong(1, identity);
            try (ResultSet r = s.executeQuery()) {
                if (!r.next() || !r.getBoolean(1)) {
                    throw new Worker.Refused(403, "identity inactive");
                }
            }
        }
        long credential;
        try (PreparedStatement s = conn.prepareStatement(
                "INSERT INTO issued_credentials (identity_id, record_id, token) VALUES (?, ?, ?) RETURNING id")) {
            s.setLong(1, identity);
            s.setLong(2, RECORD_ID);
            s.setString(3, "tok-" + Worker.env("PGRACE_ITERATION") + "-" + Worker.env("PGRACE_WORKER"));
            try (ResultSet r = s.executeQuery()) {
                r.next();
                credential = r.getLong(1);
            }
        }
        try (PreparedStatement s = conn.prepareStatement(
                "UPDATE identities SET trust_level = GREATEST(trust_level, 2) WHERE id = ?")) {
            s.setLong(1, identity);
            s.executeUpdate();
        }
        try (PreparedStatement s = conn.prepareStatement(
                "UPDATE attestation_records SET is_verified = true, credential_id = ? WHERE id = ?")) {
            s.setLong(1, credential);
            s.setLong(2, RECORD_ID);
            s.executeUpdate();
        }
        return credential;
    }
}
