// Worker.java — the Java programs' side of pgrace exec's worker contract
// (examples/README.md): the form from the first argument, a connection from
// the standard environment, one call, its answer as the last line of
// stdout, exit 0 once answered — 1 when the program could not connect
// (the exception escapes), 2 for a form it does not know.
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.util.Map;
import java.util.TreeSet;
import org.postgresql.util.PSQLException;

final class Worker {
    private Worker() {}

    /** An answer other than 200 that the operation gives on purpose (409
     * already verified, 404 not found, ...). */
    static final class Refused extends Exception {
        final int status;

        Refused(int status, String message) {
            super(message);
            this.status = status;
        }
    }

    /** One call in one form: the body of its 200 answer. */
    @FunctionalInterface
    interface Op {
        String call(Connection conn) throws SQLException, Refused;
    }

    /** Work done in a transaction. */
    @FunctionalInterface
    interface Work<T> {
        T run() throws SQLException, Refused;
    }

    /** Runs the form args names once and prints its answer; a database or
     * connection error answers dbStatus, with the SQLSTATE when there is one. */
    static void run(String name, int dbStatus, String[] args, Map<String, Op> forms) throws SQLException {
        Op op = args.length == 1 ? forms.get(args[0]) : null;
        if (op == null) {
            System.err.println("usage: " + name + " " + String.join("|", new TreeSet<>(forms.keySet())));
            System.exit(2);
        }
        try (Connection conn = connect()) {
            String answer;
            try {
                answer = "200 " + op.call(conn);
            } catch (Refused r) {
                answer = r.status + " " + r.getMessage();
            } catch (SQLException e) {
                String state = e.getSQLState() == null ? "" : e.getSQLState() + " ";
                answer = dbStatus + " " + state + message(e);
            }
            System.out.println(answer);
        }
    }

    /** JDBC reads no PG* variables: the URL is made of them. */
    static Connection connect() throws SQLException {
        String url = "jdbc:postgresql://" + System.getenv("PGHOST") + ":" + System.getenv("PGPORT") + "/"
            + System.getenv("PGDATABASE");
        return DriverManager.getConnection(url, System.getenv("PGUSER"), System.getenv("PGPASSWORD"));
    }

    /** The server's message alone, else the driver's first line. */
    static String message(SQLException e) {
        if (e instanceof PSQLException p && p.getServerErrorMessage() != null) {
            return p.getServerErrorMessage().getMessage();
        }
        return e.getMessage().lines().findFirst().orElse("");
    }

    /** Runs work in one transaction: COMMIT when it returns (so that its
     * result is handed out only once COMMIT succeeded), ROLLBACK when it
     * throws. The connection is back in autocommit either way. */
    static <T> T inTransaction(Connection conn, Work<T> work) throws SQLException, Refused {
        conn.setAutoCommit(false);
        try {
            T result = work.run();
            conn.commit();
            conn.setAutoCommit(true);
            return result;
        } catch (SQLException | Refused | RuntimeException e) {
            try {
                conn.rollback();
                conn.setAutoCommit(true);
            } catch (SQLException lost) {
                e.addSuppressed(lost);
            }
            throw e;
        }
    }

    /** The environment variable name as a number. */
    static int env(String name) {
        return Integer.parseInt(System.getenv(name));
    }
}
