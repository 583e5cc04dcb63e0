// The read-only SQL endpoint of `lakehouse serve`: a Spark session extension (spark.sql.extensions)
// whose parser lets a client session run only an allow-list of statements.
//
// Every statement a Thrift client sends is parsed by its session's parser, so the check runs on
// the parsed plan, before anything is resolved, read or executed. Allowed:
//   - queries built of the operators in QUERY_NODES, whose every relation is a served view
//     (schema in the served schemas) or the Delta path of a served table (what the views
//     themselves read), with Spark's own functions except the reflection ones (reflect,
//     java_method, try_reflect) and the table functions in TABLE_FUNCTIONS;
//   - SHOW DATABASES|SCHEMAS|TABLES|VIEWS|COLUMNS|FUNCTIONS, DESCRIBE [TABLE] of a served view,
//     USE, and EXPLAIN of an allowed statement;
//   - SET of the few session settings BI tools send (SETTABLE below), to a value or to read it.
// Everything else (ADD JAR, CREATE FUNCTION, SQL on files, INSERT, MERGE, UPDATE, DELETE, CREATE,
// DROP, ALTER, CACHE, UNCACHE, REFRESH, RESET, EXECUTE IMMEDIATE, INSERT OVERWRITE
// DIRECTORY, TRANSFORM ... USING 'script', Delta's commands, ...)
// is refused with one line. Parsing alone is also what Delta's own internal reads never go through,
// so they are not affected. The server's own session (which creates the views and caches gold) is
// the one trusted session, registered by identity from the Python driver (`serve`).
package lakehouse.serving;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.WeakHashMap;
import org.apache.spark.SparkThrowable;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.SparkSessionExtensions;
import org.apache.spark.sql.catalyst.FunctionIdentifier;
import org.apache.spark.sql.catalyst.TableIdentifier;
import org.apache.spark.sql.catalyst.analysis.UnresolvedFunction;
import org.apache.spark.sql.catalyst.analysis.UnresolvedRelation;
import org.apache.spark.sql.catalyst.analysis.UnresolvedTableOrView;
import org.apache.spark.sql.catalyst.analysis.UnresolvedTableValuedFunction;
import org.apache.spark.sql.catalyst.expressions.Expression;
import org.apache.spark.sql.catalyst.expressions.PlanExpression;
import org.apache.spark.sql.catalyst.parser.ParameterContext;
import org.apache.spark.sql.catalyst.parser.ParseException;
import org.apache.spark.sql.catalyst.parser.ParserInterface;
import org.apache.spark.sql.catalyst.plans.QueryPlan;
import org.apache.spark.sql.catalyst.plans.logical.LogicalPlan;
import org.apache.spark.sql.execution.command.ExplainCommand;
import org.apache.spark.sql.execution.command.SetCommand;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.StructType;
import scala.Option;
import scala.Tuple2;
import scala.runtime.AbstractFunction1;
import scala.runtime.AbstractFunction2;
import scala.runtime.BoxedUnit;

public final class ReadOnlySql extends AbstractFunction1<SparkSessionExtensions, BoxedUnit> {

  /** Session settings a client may SET, each because a BI client sends it. */
  static final Set<String> SETTABLE = Set.of(
      // JDBC/ODBC clients that pin the session's time zone
      "spark.sql.session.timezone",
      // passed through by Databricks' Tableau connector (databricks/tableau-connector#12)
      "spark.sql.crossjoin.enabled",
      // Initial SQL that sizes a session's shuffles to its small result sets
      "spark.sql.shuffle.partitions");

  /** Statements allowed as a whole; their relation arguments are checked like a query's. */
  private static final Set<String> STATEMENTS = Set.of(
      "org.apache.spark.sql.catalyst.plans.logical.SetCatalogAndNamespace",
      "org.apache.spark.sql.execution.command.ShowNamespacesCommand",
      "org.apache.spark.sql.catalyst.plans.logical.ShowNamespaces",
      "org.apache.spark.sql.catalyst.plans.logical.ShowTables",
      "org.apache.spark.sql.catalyst.plans.logical.ShowViews",
      "org.apache.spark.sql.catalyst.plans.logical.ShowColumns",
      "org.apache.spark.sql.catalyst.plans.logical.ShowFunctions",
      "org.apache.spark.sql.catalyst.plans.logical.DescribeRelation",
      "org.apache.spark.sql.catalyst.plans.logical.DescribeColumn");

  /** The operators a query may be built of, as the parser writes them; anything else (an
   *  INSERT OVERWRITE DIRECTORY, a TRANSFORM ... USING 'script', a command) is refused. */
  private static final Set<String> QUERY_NODES = Set.of(
      "org.apache.spark.sql.catalyst.plans.logical.Project",
      "org.apache.spark.sql.catalyst.plans.logical.Filter",
      "org.apache.spark.sql.catalyst.plans.logical.Aggregate",
      "org.apache.spark.sql.catalyst.plans.logical.Join",
      "org.apache.spark.sql.catalyst.plans.logical.LateralJoin",
      "org.apache.spark.sql.catalyst.plans.logical.Sort",
      "org.apache.spark.sql.catalyst.plans.logical.GlobalLimit",
      "org.apache.spark.sql.catalyst.plans.logical.LocalLimit",
      "org.apache.spark.sql.catalyst.plans.logical.Offset",
      "org.apache.spark.sql.catalyst.plans.logical.Distinct",
      "org.apache.spark.sql.catalyst.plans.logical.Union",
      "org.apache.spark.sql.catalyst.plans.logical.Intersect",
      "org.apache.spark.sql.catalyst.plans.logical.Except",
      "org.apache.spark.sql.catalyst.plans.logical.SubqueryAlias",
      "org.apache.spark.sql.catalyst.plans.logical.UnresolvedWith",
      "org.apache.spark.sql.catalyst.plans.logical.WithWindowDefinition",
      "org.apache.spark.sql.catalyst.plans.logical.Generate",
      "org.apache.spark.sql.catalyst.plans.logical.Pivot",
      "org.apache.spark.sql.catalyst.plans.logical.Unpivot",
      "org.apache.spark.sql.catalyst.plans.logical.Sample",
      "org.apache.spark.sql.catalyst.plans.logical.RepartitionByExpression",
      "org.apache.spark.sql.catalyst.plans.logical.UnresolvedHint",
      "org.apache.spark.sql.catalyst.analysis.UnresolvedSubqueryColumnAliases",
      "org.apache.spark.sql.catalyst.analysis.UnresolvedTVFAliases",
      // leaves with no data but the statement's own
      "org.apache.spark.sql.catalyst.plans.logical.OneRowRelation",
      "org.apache.spark.sql.catalyst.plans.logical.LocalRelation",
      "org.apache.spark.sql.catalyst.analysis.UnresolvedInlineTable",
      // arguments of the allowed statements
      "org.apache.spark.sql.catalyst.analysis.UnresolvedNamespace",
      "org.apache.spark.sql.catalyst.analysis.CurrentNamespace$");

  private static final Set<String> TABLE_FUNCTIONS = Set.of(
      "range", "explode", "explode_outer", "posexplode", "posexplode_outer", "inline",
      "inline_outer", "stack", "json_tuple");

  private static final Set<String> REFUSED_FUNCTIONS = Set.of("reflect", "java_method", "try_reflect");

  private static final Set<SparkSession> TRUSTED = Collections.newSetFromMap(new WeakHashMap<>());
  private static volatile Set<String> schemas;
  private static volatile Set<String> locations;

  /** Called by the server's driver before it opens the endpoint: its own session is trusted;
   *  clients may read views in {@code servedSchemas} and the Delta paths in
   *  {@code servedLocations} (both newline-separated). */
  public static void serve(SparkSession trusted, String servedSchemas, String servedLocations) {
    synchronized (TRUSTED) {
      TRUSTED.add(trusted);
    }
    schemas = Set.copyOf(lines(servedSchemas.toLowerCase(Locale.ROOT)));
    locations = Set.copyOf(lines(servedLocations));
  }

  @Override
  public BoxedUnit apply(SparkSessionExtensions extensions) {
    extensions.injectParser(
        new AbstractFunction2<SparkSession, ParserInterface, ParserInterface>() {
          @Override
          public ParserInterface apply(SparkSession session, ParserInterface delegate) {
            return new Parser(session, delegate);
          }
        });
    return BoxedUnit.UNIT;
  }

  /** A statement refused by the read-only endpoint; SQLSTATE 42501 (insufficient privilege). */
  public static final class Refused extends RuntimeException implements SparkThrowable {
    final String what;

    Refused(String what) {
      this(what, null);
    }

    Refused(String what, String sqlText) {
      super("lakehouse serve is read-only: " + what + statement(sqlText) + " is not allowed. "
          + "Allowed: queries over the served views (" + String.join(", ", new TreeSet<>(served()))
          + "), SHOW, DESCRIBE, USE, and SET of " + String.join(", ", new TreeSet<>(SETTABLE)) + ".");
      this.what = what;
    }

    /** The statement's first words (" in ADD JAR ..."), to name it the way its author wrote it. */
    private static String statement(String sqlText) {
      if (sqlText == null) {
        return "";
      }
      String[] words = sqlText.trim().split("\\s+", 4);
      String head = String.join(" ", java.util.Arrays.copyOf(words, Math.min(words.length, 3)));
      return " (in " + (words.length > 3 ? head + " ..." : head) + ")";
    }

    /** A refusal is an answer, not a fault: no stack trace in the server's log. */
    @Override
    public synchronized Throwable fillInStackTrace() {
      return this;
    }

    @Override
    public String getCondition() {
      return null; // no Spark error class: the message above is the whole story
    }

    @Override
    public String getSqlState() {
      return "42501";
    }

    @Override
    public Map<String, String> getMessageParameters() {
      return Map.of();
    }
  }

  private static Set<String> served() {
    Set<String> current = schemas;
    return current == null ? Set.of() : current;
  }

  private static List<String> lines(String text) {
    List<String> out = new ArrayList<>();
    for (String line : text.split("\n")) {
      if (!line.isBlank()) {
        out.add(stripSlash(line.trim()));
      }
    }
    return out;
  }

  private static String stripSlash(String path) {
    return path.endsWith("/") && path.length() > 1 ? path.substring(0, path.length() - 1) : path;
  }

  private static List<String> list(scala.collection.Seq<String> seq) {
    List<String> out = new ArrayList<>();
    scala.collection.Iterator<String> it = seq.iterator();
    while (it.hasNext()) {
      out.add(it.next());
    }
    return out;
  }

  /** Checks a parsed statement; throws {@link Refused} for anything outside the allow-list. */
  static void check(LogicalPlan plan) {
    String name = plan.getClass().getName();
    if (plan instanceof SetCommand) {
      checkSet((SetCommand) plan);
      return;
    }
    if (plan instanceof ExplainCommand) { // shows a plan, runs nothing: as allowed as its query
      check(((ExplainCommand) plan).logicalPlan());
      return;
    }
    if (STATEMENTS.contains(name)) {
      scala.collection.Iterator<LogicalPlan> children = plan.children().iterator();
      while (children.hasNext()) {
        checkQuery(children.next());
      }
      return;
    }
    checkQuery(plan);
  }

  private static void checkSet(SetCommand set) {
    Option<Tuple2<String, Option<String>>> kv = set.kv();
    if (kv.isEmpty()) {
      throw new Refused("SET (listing every setting)");
    }
    String key = kv.get()._1().trim();
    if (!SETTABLE.contains(key.toLowerCase(Locale.ROOT))) {
      throw new Refused("SET " + key);
    }
  }

  private static void checkQuery(LogicalPlan plan) {
    if (plan instanceof UnresolvedRelation) {
      checkName(list(((UnresolvedRelation) plan).multipartIdentifier()));
    } else if (plan instanceof UnresolvedTableOrView) {
      checkName(list(((UnresolvedTableOrView) plan).multipartIdentifier()));
    } else if (plan instanceof UnresolvedTableValuedFunction) {
      List<String> function = list(((UnresolvedTableValuedFunction) plan).name());
      String last = function.get(function.size() - 1).toLowerCase(Locale.ROOT);
      if (function.size() != 1 || !TABLE_FUNCTIONS.contains(last)) {
        throw new Refused("the table function " + String.join(".", function));
      }
    } else if (!QUERY_NODES.contains(plan.getClass().getName())) {
      throw new Refused(plan.nodeName());
    }
    scala.collection.Iterator<Expression> expressions = plan.expressions().iterator();
    while (expressions.hasNext()) {
      checkExpression(expressions.next());
    }
    scala.collection.Iterator<LogicalPlan> children = plan.children().iterator();
    while (children.hasNext()) {
      checkQuery(children.next());
    }
    scala.collection.Iterator<QueryPlan<?>> inner = plan.innerChildren().iterator();
    while (inner.hasNext()) { // the definitions of a WITH clause
      QueryPlan<?> child = inner.next();
      if (child instanceof LogicalPlan) {
        checkQuery((LogicalPlan) child);
      }
    }
  }

  private static void checkExpression(Expression expression) {
    if (expression instanceof UnresolvedFunction) {
      List<String> function = list(((UnresolvedFunction) expression).nameParts());
      String last = function.get(function.size() - 1).toLowerCase(Locale.ROOT);
      if (REFUSED_FUNCTIONS.contains(last)) {
        throw new Refused(last + "()");
      }
    }
    if (expression instanceof PlanExpression) { // a subquery
      Object subquery = ((PlanExpression<?>) expression).plan();
      if (subquery instanceof LogicalPlan) {
        checkQuery((LogicalPlan) subquery);
      }
    }
    scala.collection.Iterator<Expression> children = expression.children().iterator();
    while (children.hasNext()) {
      checkExpression(children.next());
    }
  }

  /** A relation name: a view of a served schema ({@code gold.x}, {@code spark_catalog.gold.x}),
   *  a one-part name (the current schema's views, or a WITH clause), or a served Delta path. */
  private static void checkName(List<String> parts) {
    Set<String> servedSchemas = served();
    Set<String> servedLocations = locations == null ? Set.of() : locations;
    String first = parts.get(0).toLowerCase(Locale.ROOT);
    boolean allowed =
        parts.size() == 1
            || (parts.size() == 2 && servedSchemas.contains(first))
            || (parts.size() == 2 && first.equals("delta")
                && servedLocations.contains(stripSlash(parts.get(1))))
            || (parts.size() == 3 && first.equals("spark_catalog")
                && servedSchemas.contains(parts.get(1).toLowerCase(Locale.ROOT)));
    if (!allowed) {
      List<String> quoted = new ArrayList<>();
      for (String part : parts) {
        quoted.add("`" + part.replace("`", "``") + "`");
      }
      throw new Refused("reading " + String.join(".", quoted));
    }
  }

  /** The session's parser with the check in front of every statement of an untrusted session. */
  private static final class Parser implements ParserInterface {
    private final SparkSession session;
    private final ParserInterface delegate;

    Parser(SparkSession session, ParserInterface delegate) {
      this.session = session;
      this.delegate = delegate;
    }

    private LogicalPlan checked(String sqlText, LogicalPlan plan) {
      boolean trusted;
      synchronized (TRUSTED) {
        trusted = TRUSTED.contains(session);
      }
      if (!trusted) {
        try {
          check(plan);
        } catch (Refused refused) {
          throw new Refused(refused.what, sqlText);
        }
      }
      return plan;
    }

    @Override
    public LogicalPlan parsePlan(String sqlText) throws ParseException {
      return checked(sqlText, delegate.parsePlan(sqlText));
    }

    @Override
    public LogicalPlan parsePlanWithParameters(String sqlText, ParameterContext context)
        throws ParseException {
      return checked(sqlText, delegate.parsePlanWithParameters(sqlText, context));
    }

    @Override
    public LogicalPlan parseQuery(String sqlText) throws ParseException {
      return checked(sqlText, delegate.parseQuery(sqlText));
    }

    @Override
    public Expression parseExpression(String sqlText) throws ParseException {
      return delegate.parseExpression(sqlText);
    }

    @Override
    public TableIdentifier parseTableIdentifier(String sqlText) throws ParseException {
      return delegate.parseTableIdentifier(sqlText);
    }

    @Override
    public FunctionIdentifier parseFunctionIdentifier(String sqlText) throws ParseException {
      return delegate.parseFunctionIdentifier(sqlText);
    }

    @Override
    public scala.collection.immutable.Seq<String> parseMultipartIdentifier(String sqlText)
        throws ParseException {
      return delegate.parseMultipartIdentifier(sqlText);
    }

    @Override
    public StructType parseRoutineParam(String sqlText) throws ParseException {
      return delegate.parseRoutineParam(sqlText);
    }

    @Override
    public StructType parseTableSchema(String sqlText) throws ParseException {
      return delegate.parseTableSchema(sqlText);
    }

    @Override
    public DataType parseDataType(String sqlText) throws ParseException {
      return delegate.parseDataType(sqlText);
    }
  }
}
