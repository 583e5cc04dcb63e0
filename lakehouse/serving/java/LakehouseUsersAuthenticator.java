// Password check for the Spark Thrift Server (hive.server2.authentication=CUSTOM).
//
// Users live in a text file written by `lakehouse users add`: one line per user,
//   name:pbkdf2-sha256:<iterations>:<salt, base64>:<hash, base64>
// The file is re-read when its content changes, so adding or removing a user needs no restart.
// Passwords are never stored; a successful check is remembered (as a salted SHA-256 of the
// pair, in memory only) so HTTP clients that authenticate every request stay fast.
// An unknown user costs the same PBKDF2 work as a known one (a dummy hash), so the time of a
// refusal does not tell which names exist; failures in a row for one name are slowed down.
package lakehouse.serving;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import javax.crypto.SecretKeyFactory;
import javax.crypto.spec.PBEKeySpec;
import javax.security.sasl.AuthenticationException;
import org.apache.hadoop.conf.Configurable;
import org.apache.hadoop.conf.Configuration;
import org.apache.hive.service.auth.PasswdAuthenticationProvider;

public final class LakehouseUsersAuthenticator implements PasswdAuthenticationProvider, Configurable {
  public static final String USERS_FILE_KEY = "lakehouse.serving.users.file";

  private static final byte[] PEPPER = new SecureRandom().generateSeed(32);
  private static final Map<String, byte[]> ACCEPTED = new ConcurrentHashMap<>();
  private static final Map<String, Integer> FAILURES = new ConcurrentHashMap<>();
  /** Failures in a row a name may have before each further attempt waits. */
  static final int FREE_FAILURES = 3;
  static final long FIRST_DELAY_MS = 500;
  static final long MAX_DELAY_MS = 8_000;
  /** Iterations of the dummy hash checked for an unknown user: those of new hashes. */
  static final int DUMMY_ITERATIONS = 600_000;
  private static final String[] DUMMY = {
    "", "pbkdf2-sha256", Integer.toString(DUMMY_ITERATIONS),
    Base64.getEncoder().encodeToString(new SecureRandom().generateSeed(16)),
    Base64.getEncoder().encodeToString(new byte[32]),
  };
  private static volatile Map<String, String[]> users = new HashMap<>();
  private static volatile byte[] loadedDigest;

  private Configuration conf;
  private Path usersFile;

  @Override
  public void setConf(Configuration conf) {
    this.conf = conf;
    // Hive builds some providers from a fresh HiveConf, so the path also comes as a JVM
    // system property set by `lakehouse serve`.
    String file = conf == null ? null : conf.get(USERS_FILE_KEY);
    if (file == null) {
      file = System.getProperty(USERS_FILE_KEY);
    }
    this.usersFile = file == null ? null : Paths.get(file);
  }

  @Override
  public Configuration getConf() {
    return conf;
  }

  public LakehouseUsersAuthenticator() {
    setConf(null);
  }

  @Override
  public void Authenticate(String user, String password) throws AuthenticationException {
    if (usersFile == null) {
      throw new AuthenticationException("no users file configured (" + USERS_FILE_KEY + ")");
    }
    if (user == null || password == null || user.isEmpty()) {
      throw new AuthenticationException("user name and password are required");
    }
    Map<String, String[]> current = load();
    String[] entry = current.get(user);
    byte[] memo = memo(user, password, entry);
    byte[] known = ACCEPTED.get(user);
    if (known != null && memo != null && MessageDigest.isEqual(known, memo)) {
      return;
    }
    slowDown(user);
    boolean valid = verify(password, entry == null ? DUMMY : entry) && entry != null;
    if (!valid) {
      if (FAILURES.size() > 100_000) { // names made up by the million must not fill the heap
        FAILURES.clear();
      }
      FAILURES.merge(user, 1, Integer::sum);
      throw new AuthenticationException("wrong user name or password");
    }
    FAILURES.remove(user);
    ACCEPTED.put(user, memo);
  }

  /** Wait before checking a name that failed more than FREE_FAILURES times in a row: 0.5 s,
   *  then twice as long each time, at most 8 s (until a check of that name succeeds). */
  private static void slowDown(String user) throws AuthenticationException {
    int failures = FAILURES.getOrDefault(user, 0);
    if (failures < FREE_FAILURES) {
      return;
    }
    int doublings = Math.min(failures - FREE_FAILURES, 10);
    long delay = Math.min(FIRST_DELAY_MS << doublings, MAX_DELAY_MS);
    try {
      Thread.sleep(delay);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AuthenticationException("interrupted");
    }
  }

  private Map<String, String[]> load() throws AuthenticationException {
    try {
      // The file is small: compare its content, so a change within the file system's mtime
      // resolution that keeps the size (a new password of the same length) is seen too.
      byte[] content = Files.readAllBytes(usersFile);
      byte[] digest = MessageDigest.getInstance("SHA-256").digest(content);
      if (loadedDigest == null || !MessageDigest.isEqual(digest, loadedDigest)) {
        synchronized (LakehouseUsersAuthenticator.class) {
          Map<String, String[]> parsed = new HashMap<>();
          for (String line : new String(content, StandardCharsets.UTF_8).split("\n")) {
            String trimmed = line.trim();
            if (trimmed.isEmpty() || trimmed.startsWith("#")) {
              continue;
            }
            String[] parts = trimmed.split(":");
            if (parts.length == 5 && parts[1].equals("pbkdf2-sha256")) {
              parsed.put(parts[0], parts);
            }
          }
          users = parsed;
          ACCEPTED.clear();
          loadedDigest = digest;
        }
      }
      return users;
    } catch (java.io.IOException e) {
      throw new AuthenticationException("cannot read the users file " + usersFile, e);
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new AuthenticationException("no SHA-256 in this JVM", e);
    }
  }

  private static boolean verify(String password, String[] entry) throws AuthenticationException {
    try {
      int iterations = Integer.parseInt(entry[2]);
      byte[] salt = Base64.getDecoder().decode(entry[3]);
      byte[] expected = Base64.getDecoder().decode(entry[4]);
      PBEKeySpec spec = new PBEKeySpec(password.toCharArray(), salt, iterations, expected.length * 8);
      byte[] actual = SecretKeyFactory.getInstance("PBKDF2WithHmacSHA256").generateSecret(spec).getEncoded();
      spec.clearPassword();
      return MessageDigest.isEqual(expected, actual);
    } catch (IllegalArgumentException | java.security.GeneralSecurityException e) {
      throw new AuthenticationException("malformed users file entry for " + entry[0], e);
    }
  }

  private static byte[] memo(String user, String password, String[] entry) {
    if (entry == null) {
      return null;
    }
    try {
      MessageDigest digest = MessageDigest.getInstance("SHA-256");
      digest.update(PEPPER);
      digest.update(String.join(":", entry).getBytes(StandardCharsets.UTF_8));
      digest.update((byte) 0);
      digest.update(password.getBytes(StandardCharsets.UTF_8));
      return digest.digest();
    } catch (java.security.NoSuchAlgorithmException e) {
      return null;
    }
  }
}
