package org.resnorm.analysis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** analysis.json holds every number (NaN as null) and the definitions; analysis.md the tables. */
class AnalysisReportTest {
  @Test
  void writesJsonAndMarkdown(@TempDir Path dir) throws IOException {
    List<AnalysisReport.Entry> entries = List.of(
        new AnalysisReport.Entry(PlotsTest.synthetic("plain relu", 1, true), Path.of("a.safetensors"),
            Map.of("epoch", "164", "config", "{\"dataset\":\"cifar100\",\"lr\":0.1}")),
        new AnalysisReport.Entry(PlotsTest.synthetic("bn|crelu", 0.5, false), null, null));
    AnalysisReport.write(dir, "CIFAR-100 test", 500, entries);
    JsonObject root = JsonParser.parseString(Files.readString(dir.resolve(AnalysisReport.JSON))).getAsJsonObject();
    assertEquals(500, root.get("samples_requested").getAsInt());
    assertTrue(root.getAsJsonObject("definitions").get("delta_reshaping_blocks").getAsString()
        .contains("x[:, :, ::2, ::2]"));
    var cps = root.getAsJsonArray("checkpoints");
    assertEquals(2, cps.size());
    JsonObject first = cps.get(0).getAsJsonObject();
    assertEquals("plain relu", first.get("label").getAsString());
    assertEquals("164", first.get("epoch").getAsString());
    assertEquals("cifar100", first.getAsJsonObject("config").get("dataset").getAsString());
    assertEquals(20, first.getAsJsonObject("model").get("depth").getAsInt());
    assertEquals(9, first.getAsJsonArray("blocks").size());
    JsonObject b3 = first.getAsJsonArray("blocks").get(3).getAsJsonObject();
    assertEquals("layer2.0", b3.get("name").getAsString());
    assertTrue(b3.get("reshapes").getAsBoolean());
    assertEquals(Math.pow(1.8, 3), b3.get("delta").getAsDouble(), 1e-12);
    assertEquals(0.0, first.getAsJsonArray("blocks").get(0).getAsJsonObject().get("delta").getAsDouble());
    assertEquals(19, first.getAsJsonArray("convs").size());
    assertTrue(first.getAsJsonArray("convs").get(5).getAsJsonObject().get("coherence").isJsonNull(), "NaN -> null");
    assertEquals(0.5, first.getAsJsonObject("last_activation").get("nzr").getAsDouble());
    assertTrue(cps.get(1).getAsJsonObject().get("checkpoint").isJsonNull());

    String md = Files.readString(dir.resolve(AnalysisReport.MARKDOWN));
    assertTrue(md.contains("| block | name | shape in -> out | plain relu | bn/crelu |"), md);
    assertTrue(md.contains("| 4* | layer2.0 | 32x8x8 -> 32x8x8 | 5.832 | 2.916 |"), md);
    assertTrue(md.contains("| plain relu | 1.000 ± 1.000 | 0.500 | 10 |"), md);
    assertTrue(md.contains("| 6 | conv5 | 16 x 144 | n/a | n/a |"), md);
    assertTrue(md.contains("![delta per block](delta.png)"), md);
  }
}
