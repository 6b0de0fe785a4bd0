// Creates SCRAM-SHA-512 users and ALLOW ACLs on the local secured broker, in one JVM start:
// what Strimzi's User Operator does from deploy/k8s/base/kafka/users.yaml. Run by
// `bash scripts/kafka.sh grant SPEC` (a single-file source program, Java 11+) as the admin.
//
// SPEC has one entry a line (blank lines and # comments skipped):
//   user <name> <password>
//   acl <user> <TOPIC|GROUP|CLUSTER> <resource name> <LITERAL|PREFIXED> <OPERATION>[,<OPERATION>...]
// Operations are AclOperation names (READ, WRITE, DESCRIBE_CONFIGS, ...).
// Usage: java -cp '<kafka libs>/*' Grant.java <admin client properties> <spec>

import java.io.FileInputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ScramCredentialInfo;
import org.apache.kafka.clients.admin.ScramMechanism;
import org.apache.kafka.clients.admin.UserScramCredentialAlteration;
import org.apache.kafka.clients.admin.UserScramCredentialUpsertion;
import org.apache.kafka.common.acl.AccessControlEntry;
import org.apache.kafka.common.acl.AclBinding;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.acl.AclPermissionType;
import org.apache.kafka.common.resource.PatternType;
import org.apache.kafka.common.resource.ResourcePattern;
import org.apache.kafka.common.resource.ResourceType;

public class Grant {
  public static void main(String[] args) throws Exception {
    if (args.length != 2) {
      System.err.println("usage: Grant <admin client properties> <spec>");
      System.exit(2);
    }
    Properties config = new Properties();
    try (FileInputStream in = new FileInputStream(args[0])) {
      config.load(in);
    }
    List<UserScramCredentialAlteration> users = new ArrayList<>();
    List<AclBinding> acls = new ArrayList<>();
    int lineNumber = 0;
    for (String raw : Files.readAllLines(Path.of(args[1]))) {
      lineNumber++;
      String line = raw.strip();
      if (line.isEmpty() || line.startsWith("#")) continue;
      String[] f = line.split("\\s+");
      if (f[0].equals("user") && f.length == 3) {
        users.add(new UserScramCredentialUpsertion(
            f[1], new ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 8192), f[2]));
      } else if (f[0].equals("acl") && f.length == 6) {
        ResourcePattern pattern = new ResourcePattern(
            ResourceType.valueOf(f[2]), f[3], PatternType.valueOf(f[4]));
        for (String operation : f[5].split(",")) {
          acls.add(new AclBinding(pattern, new AccessControlEntry(
              "User:" + f[1], "*", AclOperation.valueOf(operation), AclPermissionType.ALLOW)));
        }
      } else {
        System.err.println("Grant: " + args[1] + ":" + lineNumber + ": cannot read '" + line + "'");
        System.exit(2);
      }
    }
    try (Admin admin = Admin.create(config)) {
      if (!users.isEmpty()) admin.alterUserScramCredentials(users).all().get();
      if (!acls.isEmpty()) admin.createAcls(acls).all().get();
    }
    System.out.println("Grant: " + users.size() + " user(s), " + acls.size() + " ACL(s)");
  }
}
