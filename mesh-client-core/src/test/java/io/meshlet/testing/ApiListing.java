package io.meshlet.testing;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.lang.reflect.Modifier;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Holds a client module's public API and docs/api.md together: every public top-level type of the
 * module's built classes outside {@code io.meshlet.internal} and {@code *.internal} packages is
 * listed in the module's section of docs/api.md ({@code ## <module>}, one {@code `type`} per line),
 * and every type listed there is one. Used by each client module's {@code PublicApiDocumentedTest}.
 */
public final class ApiListing {

  private static final Pattern LISTED = Pattern.compile("^- `([a-zA-Z0-9_.]+)`", Pattern.MULTILINE);

  private ApiListing() {}

  /**
   * Checks the module whose classes hold {@code anchor}.
   *
   * @param module the module's directory name, which is its section's heading in docs/api.md
   */
  public static void check(Class<?> anchor, String module) throws IOException, URISyntaxException {
    Path classes = Path.of(anchor.getProtectionDomain().getCodeSource().getLocation().toURI());
    assertThat(classes).as("built classes of %s", module).isDirectory();
    Set<String> publicTypes = publicTypes(classes, anchor.getClassLoader());
    Set<String> listed = listed(apiDoc(classes), module);
    assertThat(publicTypes).as("public types of %s missing from docs/api.md (list each under '## %s',"
        + " or make it non-public or move it to an internal package)", module, module)
        .isSubsetOf(listed);
    assertThat(listed).as("types docs/api.md lists under '## %s' that are not public types of it", module)
        .isSubsetOf(publicTypes);
  }

  /** The public top-level types of a classes directory, outside internal packages. */
  static Set<String> publicTypes(Path classes, ClassLoader loader) throws IOException {
    Set<String> out = new TreeSet<>();
    try (Stream<Path> files = Files.walk(classes)) {
      for (Path f : (Iterable<Path>) files::iterator) {
        String rel = classes.relativize(f).toString().replace(f.getFileSystem().getSeparator(), "/");
        if (!rel.endsWith(".class") || rel.contains("$") || rel.endsWith("package-info.class")
            || rel.endsWith("module-info.class")) {
          continue;
        }
        String name = rel.substring(0, rel.length() - ".class".length()).replace('/', '.');
        String pkg = name.lastIndexOf('.') < 0 ? "" : name.substring(0, name.lastIndexOf('.'));
        if (pkg.equals("io.meshlet.internal") || pkg.startsWith("io.meshlet.internal.") || pkg.endsWith(".internal")
            || pkg.contains(".internal.")) {
          continue;
        }
        try {
          if (Modifier.isPublic(Class.forName(name, false, loader).getModifiers())) {
            out.add(name);
          }
        } catch (ClassNotFoundException | LinkageError e) {
          throw new AssertionError("cannot load " + name + " from " + classes, e);
        }
      }
    }
    return out;
  }

  /** The types a module's section of the doc lists. */
  static Set<String> listed(String doc, String module) {
    int start = doc.indexOf("\n## " + module + "\n");
    assertThat(start).as("docs/api.md has a section '## %s'", module).isGreaterThanOrEqualTo(0);
    int end = doc.indexOf("\n## ", start + 1);
    String section = end < 0 ? doc.substring(start) : doc.substring(start, end);
    Set<String> out = new TreeSet<>();
    Matcher m = LISTED.matcher(section);
    while (m.find()) {
      out.add(m.group(1));
    }
    return out;
  }

  private static String apiDoc(Path classes) throws IOException {
    List<Path> tried = new ArrayList<>();
    for (Path dir = classes; dir != null; dir = dir.getParent()) {
      Path doc = dir.resolve("docs/api.md");
      if (Files.isRegularFile(doc)) {
        return Files.readString(doc);
      }
      tried.add(doc);
    }
    throw new AssertionError("no docs/api.md above " + classes + " (tried " + tried + ")");
  }
}
