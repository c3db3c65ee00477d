package org.resnorm.analysis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import javax.imageio.ImageIO;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.axis.LogAxis;
import org.jfree.chart.axis.NumberAxis;
import org.jfree.chart.plot.XYPlot;
import org.jfree.data.xy.XYDataset;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.resnorm.model.Norm;
import org.resnorm.model.ResNetConfig;
import org.resnorm.ops.Act;

/** The charts hold one series per network with the right points; the PNGs decode and are drawn. */
class PlotsTest {
  static Analysis synthetic(String label, double scale, boolean zeroFirst) {
    List<Analysis.BlockDelta> blocks = new ArrayList<>();
    for (int b = 0; b < 9; b++) {
      double d = zeroFirst && b == 0 ? 0 : scale * Math.pow(1.8, b);
      int c = b < 3 ? 16 : b < 6 ? 32 : 64;
      blocks.add(new Analysis.BlockDelta(b, "layer" + (b / 3 + 1) + "." + b % 3, new int[] {c, 8, 8},
          new int[] {c, 8, 8}, b % 3 == 0 && b > 0 ? 2 : 1, b % 3 == 0 && b > 0, d));
    }
    List<Analysis.ConvCoherence> convs = new ArrayList<>();
    for (int i = 0; i < 19; i++) {
      convs.add(new Analysis.ConvCoherence("conv" + i, "conv" + i + ".weight", 16, 144,
          i == 5 ? Double.NaN : 0.2 + 0.03 * i * scale));
    }
    return new Analysis(label, ResNetConfig.cifar(20, Norm.BATCHNORM, Act.RELU, 10), 500, blocks,
        new ActivationStats.Summary(10, 1, 1, 0.5), convs);
  }

  static int distinctColours(BufferedImage img) {
    Set<Integer> colours = new HashSet<>();
    for (int y = 0; y < img.getHeight(); y += 2) {
      for (int x = 0; x < img.getWidth(); x += 2) {
        colours.add(img.getRGB(x, y));
      }
    }
    return colours.size();
  }

  @Test
  void deltaChartHasOneSeriesPerNetworkOnALogAxis() {
    JFreeChart c = Plots.deltaChart(List.of(synthetic("plain relu", 1, true), synthetic("batchnorm crelu", 0.1,
        false)));
    XYPlot p = c.getXYPlot();
    assertInstanceOf(LogAxis.class, p.getRangeAxis());
    XYDataset d = p.getDataset();
    assertEquals(2, d.getSeriesCount());
    assertEquals("plain relu", d.getSeriesKey(0));
    assertEquals(8, d.getItemCount(0), "the zero delta has no place on a log axis");
    assertEquals(9, d.getItemCount(1));
    assertEquals(1.0, d.getXValue(1, 0), "blocks are numbered from 1");
    assertEquals(0.1, d.getYValue(1, 0), 1e-15);
    assertEquals(2, p.getDomainMarkers(org.jfree.chart.ui.Layer.FOREGROUND).size(), "stage starts 4 and 7");
    // all deltas zero: a linear axis
    Analysis flat = synthetic("flat", 0, false);
    assertInstanceOf(NumberAxis.class, Plots.deltaChart(List.of(flat)).getXYPlot().getRangeAxis());
  }

  @Test
  void logTickLabelsShowThreeSignificantDigits() {
    Plots.Significant f = new Plots.Significant();
    assertEquals("0.158", f.format(Math.pow(10, -0.8)));
    assertEquals("100", f.format(100.0));
    assertEquals("1", f.format(1.0));
    assertEquals("1.0e-06", f.format(1e-6));
  }

  @Test
  void coherenceChartSkipsUndefinedValues() {
    XYDataset d = Plots.coherenceChart(List.of(synthetic("a", 1, false))).getXYPlot().getDataset();
    assertEquals(1, d.getSeriesCount());
    assertEquals(18, d.getItemCount(0), "the NaN coherence is left out");
    assertEquals(0.2, d.getYValue(0, 0), 1e-15);
  }

  @Test
  void writesDrawnPngs(@TempDir Path dir) throws IOException {
    assertEquals(1, distinctColours(new BufferedImage(40, 30, BufferedImage.TYPE_INT_RGB)), "a blank image");
    Plots.writeAll(List.of(synthetic("plain relu", 1, true), synthetic("batchnorm crelu", 0.1, false)), dir);
    for (String name : new String[] {Plots.DELTA_PNG, Plots.COHERENCE_PNG}) {
      BufferedImage img = ImageIO.read(dir.resolve(name).toFile());
      assertEquals(Plots.WIDTH, img.getWidth(), name);
      assertEquals(Plots.HEIGHT, img.getHeight(), name);
      assertTrue(distinctColours(img) > 20, name + ": " + distinctColours(img) + " colours");
    }
  }
}
