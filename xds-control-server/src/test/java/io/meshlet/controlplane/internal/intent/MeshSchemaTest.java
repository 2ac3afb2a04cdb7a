package io.meshlet.controlplane.internal.intent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import io.meshlet.controlplane.intent.MeshConfigException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * docs/config.md's field tables are rendered from {@link MeshSchema}; this test fails when they
 * drift. To re-render them after changing the schema, run it with {@code -Dmeshlet.writeDocs=true}.
 */
class MeshSchemaTest {

  private static final Path CONFIG_MD = Path.of("..", "docs", "config.md");
  private static final Map<String, MeshSchema.Section> TABLES = Map.of(
      "top level", MeshSchema.MESH,
      "service", MeshSchema.SERVICE,
      "route", MeshSchema.ROUTE);
  private static final Pattern BLOCK = Pattern.compile(
      "(<!-- generated from MeshSchema: (.+?) -->\n)(.*?)(<!-- end of generated table -->)", Pattern.DOTALL);

  @Test
  void theFieldTablesOfConfigMdAreTheSchemas() throws IOException {
    String doc = Files.readString(CONFIG_MD, StandardCharsets.UTF_8);
    Matcher m = BLOCK.matcher(doc);
    StringBuilder rendered = new StringBuilder();
    int tables = 0;
    while (m.find()) {
      MeshSchema.Section section = TABLES.get(m.group(2));
      assertThat(section).as("a table named %s in MeshSchemaTest.TABLES", m.group(2)).isNotNull();
      m.appendReplacement(rendered, Matcher.quoteReplacement(
          m.group(1) + MeshSchema.markdownTable(section) + m.group(4)));
      tables++;
    }
    m.appendTail(rendered);
    if (Boolean.getBoolean("meshlet.writeDocs")) {
      Files.writeString(CONFIG_MD, rendered.toString(), StandardCharsets.UTF_8);
    }
    assertThat(tables).isEqualTo(TABLES.size());
    assertThat(doc)
        .as("docs/config.md's tables as MeshSchema renders them (rerun with -Dmeshlet.writeDocs=true)")
        .isEqualTo(rendered.toString());
  }

  @Test
  void anUnknownFieldIsRefusedWithTheKeysTheSchemaDefines() {
    MeshConfigException e = catchThrowableOfType(MeshConfigException.class,
        () -> MeshYamlReader.parse("services:\n  a:\n    retry: {}\n", "mesh.yaml"));
    assertThat(e.violations()).singleElement().hasToString(
        "mesh.yaml:3: service 'a': retry: unknown field (expected: one of "
            + String.join(", ", MeshSchema.SERVICE.names()) + ")");
  }
}
