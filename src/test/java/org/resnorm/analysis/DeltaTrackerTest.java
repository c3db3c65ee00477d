package org.resnorm.analysis;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.resnorm.WithEngine;
import org.resnorm.core.Tensor;
import org.resnorm.data.Dataset;
import org.resnorm.model.Norm;
import org.resnorm.model.ResNet;
import org.resnorm.model.Shortcut;
import org.resnorm.ops.Act;
import org.resnorm.ops.Sgd;

/** The tracker measures what Analyzer measures, on schedule, between training steps, without disturbing them. */
class DeltaTrackerTest extends WithEngine {
  @Test
  void recordsOnScheduleBetweenStepsAndWritesJsonLines(@TempDir Path dir) throws IOException {
    Dataset data = AnalyzerTest.randomData(6, 4);
    DeltaTracker t = new DeltaTracker(data, 5, 2);
    assertFalse(t.due(0));
    assertFalse(t.due(1));
    assertTrue(t.due(2));
    assertFalse(t.due(3));
    assertTrue(t.due(4));
    try (ResNet net = ResNet.create(engine, AnalyzerTest.config(Norm.BATCHNORM, Act.CRELU, Shortcut.A), 3,
        AnalyzerTest.HW, AnalyzerTest.HW, 1);
        Tensor x = Tensor.of(java.util.Arrays.copyOf(data.images(), 3 * 3 * 81), 3, 3, 9, 9);
        Tensor y = Tensor.ofInts(new int[] {0, 1, 2});
        Sgd sgd = Sgd.paperRecipe(1e-4f)) {
      net.forwardBackward(x, y);
      net.step(sgd, 0.1f);
      DeltaTracker.Point p2 = t.record(2, net);
      Analysis a = Analyzer.analyze("same", net, data, 5);
      assertEquals(5, p2.images());
      assertEquals(3, p2.deltas().length);
      for (int i = 0; i < 3; i++) {
        assertEquals(a.blocks().get(i).delta(), p2.deltas()[i], 0, "block " + i);
      }
      assertEquals(a.lastActivation(), p2.lastActivation());
      net.forwardBackward(x, y);
      net.step(sgd, 0.1f);
      DeltaTracker.Point p4 = t.record(4, net);
      assertNotEquals(p2.deltas()[2], p4.deltas()[2], "a step changed the network");
      assertEquals(List.of(2, 4), t.history().stream().map(DeltaTracker.Point::epoch).toList());
      Path file = dir.resolve("delta.jsonl");
      t.appendJsonl(file, p2);
      t.appendJsonl(file, p4);
      List<String> lines = Files.readAllLines(file);
      assertEquals(2, lines.size());
      JsonObject o = JsonParser.parseString(lines.get(1)).getAsJsonObject();
      assertEquals(4, o.get("epoch").getAsInt());
      assertEquals(p4.deltas()[1], o.getAsJsonArray("delta").get(1).getAsDouble(), 0);
      assertEquals(p4.lastActivation().nzr(), o.get("nzr").getAsDouble(), 0);
    }
    assertArrayEquals(new double[0], new DeltaTracker.Point(1, 1, new double[0], null).deltas());
    assertThrows(IllegalArgumentException.class, () -> new DeltaTracker(data, 5, 0));
    assertThrows(IllegalArgumentException.class, () -> new DeltaTracker(data, 0, 1));
  }
}
