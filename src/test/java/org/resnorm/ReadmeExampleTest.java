package org.resnorm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The README's library example compiles against the current API (it would rot silently otherwise). */
class ReadmeExampleTest {
  static final String MARKER = "<!-- ReadmeExampleTest compiles the next java block";

  @Test
  void readmeJavaExampleCompiles(@TempDir Path dir) throws IOException {
    String readme = Files.readString(Path.of("README.md"));
    int at = readme.indexOf(MARKER);
    assertTrue(at >= 0, "README.md lost the marked example");
    int start = readme.indexOf("```java\n", at) + "```java\n".length();
    String code = readme.substring(start, readme.indexOf("```", start));
    assertTrue(code.contains("public class Example"), code);
    Path src = dir.resolve("Example.java");
    Files.writeString(src, code);
    JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int rc = javac.run(null, null, err, "-d", dir.toString(), "-cp", System.getProperty("java.class.path"),
        src.toString());
    assertEquals(0, rc, err.toString(StandardCharsets.UTF_8));
    assertTrue(Files.exists(dir.resolve("Example.class")));
  }
}
