// JdbcCases.java — the driver table's cases for pgJDBC (t/clients/README.md).
import java.sql.BatchUpdateException;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;

public class JdbcCases {
    static String url() {
        return "jdbc:postgresql://" + System.getenv("PGHOST") + ":" + System.getenv("PGPORT") + "/"
            + System.getenv("PGDATABASE") + "?user=" + System.getenv("PGUSER") + "&sslmode=disable";
    }

    /** What the driver raised: its class and its SQLState; a batch's with its next exception's. */
    static String raised(SQLException e) {
        String code = e.getSQLState();
        String what = e.getClass().getSimpleName() + (code != null ? "/" + code : "");
        if (e instanceof BatchUpdateException && e.getNextException() != null)
            what += "(" + raised(e.getNextException()) + ")";
        return what;
    }

    interface Step { void run() throws SQLException; }

    static String outcome(Step s) {
        try {
            s.run();
            return "none";
        } catch (SQLException e) {
            return raised(e);
        }
    }

    /** Runs sql on c for its effect (and its error). */
    static void run(Connection c, String sql) throws SQLException {
        try (Statement s = c.createStatement()) {
            s.execute(sql);
        }
    }

    static long count(Connection c, String where) throws SQLException {
        try (Statement s = c.createStatement(); ResultSet r = s.executeQuery("SELECT count(*) FROM pgf_rows WHERE " + where)) {
            r.next();
            return r.getLong(1);
        }
    }

    static String commit(int row) throws SQLException {
        Connection k = DriverManager.getConnection(url());
        k.setAutoCommit(false);
        return outcome(() -> {
            run(k, "INSERT INTO pgf_rows VALUES (" + row + ")");
            k.commit();
        });
    }

    public static void main(String[] args) throws Exception {
        Connection c = DriverManager.getConnection(url());                      // connection 1
        run(c, "CREATE TABLE IF NOT EXISTS pgf_rows (id int PRIMARY KEY)");
        for (String tag : new String[] { "ser", "dl", "uv" })
            System.out.println(tag + "=" + outcome(() -> run(c, "SELECT 1 /* pgf-" + tag + " */")));
        c.setAutoCommit(false);
        try (Statement s = c.createStatement()) {
            s.executeQuery("SELECT 1").close();
            System.out.println("intx=" + outcome(() -> s.executeQuery("SELECT 1 /* pgf-ser */").close()));
            System.out.println("next=" + outcome(() -> s.executeQuery("SELECT 2").close()));
        }
        c.rollback();
        c.setAutoCommit(true);
        // executeBatch: Parse, Bind and Execute per row, one Sync for them all.
        System.out.println("pipeline=" + outcome(() -> {
            try (PreparedStatement p = c.prepareStatement("INSERT INTO pgf_rows VALUES (?) /* pgf-pipe */")) {
                for (int id = 10; id <= 12; id++) {
                    p.setInt(1, id);
                    p.addBatch();
                }
                p.executeBatch();
            }
        }));
        System.out.println("pipeline_rows=" + count(c, "id BETWEEN 10 AND 12"));
        System.out.println("commit=" + commit(20));                             // connection 2
        Connection v = DriverManager.getConnection(url());                      // connection 3
        System.out.println("commit_rows=" + count(v, "id = 20"));
        Connection d = DriverManager.getConnection(url());                      // connection 4
        System.out.println("drop=" + outcome(() -> run(d, "SELECT 1 /* pgf-drop */")));
        System.out.println("ambiguous=" + commit(30));                          // connection 5
        Connection w = DriverManager.getConnection(url());                      // connection 6
        System.out.println("ambiguous_rows=" + count(w, "id = 30"));
        Connection m = DriverManager.getConnection(url());                      // connection 7
        // pgJDBC splits the string: three Parse/Bind/Execute before one Sync.
        System.out.println("multi=" + outcome(() -> run(m, "BEGIN; INSERT INTO pgf_rows VALUES (40); COMMIT")));
        Connection x = DriverManager.getConnection(url());                      // connection 8
        System.out.println("multi_rows=" + count(x, "id = 40"));
    }
}
