package org.resnorm.analysis;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.io.IOException;
import java.math.BigDecimal;
import java.math.MathContext;
import java.nio.file.Path;
import java.text.FieldPosition;
import java.text.NumberFormat;
import java.text.ParsePosition;
import java.util.List;
import java.util.Locale;
import org.jfree.chart.ChartUtils;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.axis.LogAxis;
import org.jfree.chart.axis.NumberAxis;
import org.jfree.chart.axis.NumberTickUnit;
import org.jfree.chart.axis.ValueAxis;
import org.jfree.chart.plot.ValueMarker;
import org.jfree.chart.plot.XYPlot;
import org.jfree.chart.renderer.xy.XYLineAndShapeRenderer;
import org.jfree.chart.title.TextTitle;
import org.jfree.chart.ui.RectangleEdge;
import org.jfree.data.xy.XYSeries;
import org.jfree.data.xy.XYSeriesCollection;

/**
 * The paper's analysis figures as JFreeChart charts and PNG files, one series per analysed
 * network (overlaid, with a legend):
 * <ul>
 *   <li>{@link #deltaChart}: delta per residual block (Fig. 2), blocks numbered from 1 on the x
 *       axis, delta on a log y axis (the paper's plain networks' late blocks are orders of
 *       magnitude above the rest; its figure uses an inset of the first 36 blocks instead). A
 *       delta of 0 has no place on a log axis and is left out of its series; when no delta is
 *       positive the axis is linear. Dashed vertical lines mark the blocks that reshape (the
 *       first of stages 2 and 3), from the first network.
 *   <li>{@link #coherenceChart}: coherence mu per conv (Fig. 3), convs numbered from 1 in forward
 *       order (stem first), y from 0 to 1; an undefined mu (NaN) is left out.
 * </ul>
 * Rendering is headless: {@code java.awt.headless} is set to true when this class loads unless
 * the property was already given.
 */
public final class Plots {
  /** The size {@link #writeAll} saves at. */
  public static final int WIDTH = 960;
  public static final int HEIGHT = 600;
  public static final String DELTA_PNG = "delta.png";
  public static final String COHERENCE_PNG = "coherence.png";

  static {
    if (System.getProperty("java.awt.headless") == null) {
      System.setProperty("java.awt.headless", "true");
    }
  }

  private Plots() {}

  /** Delta per block, one series per analysis, log y axis (see the class comment). */
  public static JFreeChart deltaChart(List<Analysis> analyses) {
    XYSeriesCollection data = new XYSeriesCollection();
    double min = Double.POSITIVE_INFINITY;
    double max = 0;
    for (Analysis a : analyses) {
      XYSeries s = new XYSeries(a.label(), false, true);
      for (Analysis.BlockDelta b : a.blocks()) {
        if (b.delta() > 0 && Double.isFinite(b.delta())) {
          s.add(b.index() + 1, b.delta());
          min = Math.min(min, b.delta());
          max = Math.max(max, b.delta());
        }
      }
      data.addSeries(s);
    }
    ValueAxis y;
    if (max > 0) {
      LogAxis log = new LogAxis("delta (log scale)");
      log.setBase(10);
      log.setSmallestValue(1e-12);
      log.setNumberFormatOverride(new Significant());
      if (max / min >= 100) {
        log.setTickUnit(new NumberTickUnit(1));  // one tick per decade
      }
      y = log;
    } else {
      y = new NumberAxis("delta");
    }
    XYPlot plot = plot(data, "residual block", y);
    if (!analyses.isEmpty()) {
      for (Analysis.BlockDelta b : analyses.get(0).blocks()) {
        if (b.reshapes()) {
          ValueMarker m = new ValueMarker(b.index() + 1, Color.GRAY, new BasicStroke(1f, BasicStroke.CAP_BUTT,
              BasicStroke.JOIN_MITER, 1f, new float[] {4f, 4f}, 0f));
          plot.addDomainMarker(m);
        }
      }
    }
    return chart("Residual block delta: mean over positions of ||x_l - x_(l+1)||_2 over channels", plot,
        "x_l through shortcut A's identity (stride-2 subsample, zero channels) where a block reshapes; "
            + samplesNote(analyses));
  }

  /** Coherence per conv, one series per analysis, y in [0, 1]. */
  public static JFreeChart coherenceChart(List<Analysis> analyses) {
    XYSeriesCollection data = new XYSeriesCollection();
    for (Analysis a : analyses) {
      XYSeries s = new XYSeries(a.label(), false, true);
      for (int i = 0; i < a.convs().size(); i++) {
        double mu = a.convs().get(i).mu();
        if (Double.isFinite(mu)) {
          s.add(i + 1, mu);
        }
      }
      data.addSeries(s);
    }
    NumberAxis y = new NumberAxis("coherence mu");
    y.setRange(0, 1.02);
    XYPlot plot = plot(data, "conv layer (stem = 1)", y);
    return chart("Filter coherence: max over i != j of |W_i . W_j| / (||W_i|| ||W_j||)", plot,
        "rows W_i = filters flattened over C x R x S; weight_v for weight-normalized convs");
  }

  /** Saves {@code chart} as a {@code width} x {@code height} PNG. */
  public static void savePng(JFreeChart chart, Path file, int width, int height) throws IOException {
    ChartUtils.saveChartAsPNG(file.toFile(), chart, width, height);
  }

  /** Writes {@link #DELTA_PNG} and {@link #COHERENCE_PNG} into {@code dir} at WIDTH x HEIGHT. */
  public static void writeAll(List<Analysis> analyses, Path dir) throws IOException {
    savePng(deltaChart(analyses), dir.resolve(DELTA_PNG), WIDTH, HEIGHT);
    savePng(coherenceChart(analyses), dir.resolve(COHERENCE_PNG), WIDTH, HEIGHT);
  }

  private static XYPlot plot(XYSeriesCollection data, String xLabel, ValueAxis y) {
    NumberAxis x = new NumberAxis(xLabel);
    x.setStandardTickUnits(NumberAxis.createIntegerTickUnits());
    x.setAutoRangeIncludesZero(false);
    XYLineAndShapeRenderer r = new XYLineAndShapeRenderer(true, true);
    for (int i = 0; i < data.getSeriesCount(); i++) {
      r.setSeriesStroke(i, new BasicStroke(1.6f));
    }
    XYPlot plot = new XYPlot(data, x, y, r);
    plot.setBackgroundPaint(Color.WHITE);
    plot.setDomainGridlinePaint(new Color(0xDD, 0xDD, 0xDD));
    plot.setRangeGridlinePaint(new Color(0xDD, 0xDD, 0xDD));
    return plot;
  }

  private static JFreeChart chart(String title, XYPlot plot, String subtitle) {
    JFreeChart c = new JFreeChart(title, new Font(Font.SANS_SERIF, Font.BOLD, 15), plot, true);
    c.setBackgroundPaint(Color.WHITE);
    c.getLegend().setPosition(RectangleEdge.BOTTOM);
    c.addSubtitle(new TextTitle(subtitle, new Font(Font.SANS_SERIF, Font.PLAIN, 11)));
    return c;
  }

  /** Tick labels with 3 significant digits: 0.158, 1, 25.1, 1e-06. */
  static final class Significant extends NumberFormat {
    private static final long serialVersionUID = 1L;

    @Override
    public StringBuffer format(double v, StringBuffer to, FieldPosition pos) {
      double a = Math.abs(v);
      if (v == 0 || (a >= 1e-3 && a < 1e6)) {
        to.append(new BigDecimal(v).round(new MathContext(3)).stripTrailingZeros().toPlainString());
      } else {
        to.append(String.format(Locale.ROOT, "%.2g", v));
      }
      return to;
    }

    @Override
    public StringBuffer format(long v, StringBuffer to, FieldPosition pos) {
      return format((double) v, to, pos);
    }

    @Override
    public Number parse(String source, ParsePosition pos) {
      throw new UnsupportedOperationException("format only");
    }
  }

  private static String samplesNote(List<Analysis> analyses) {
    if (analyses.isEmpty()) {
      return "no network";
    }
    int images = analyses.get(0).images();
    boolean same = analyses.stream().allMatch(a -> a.images() == images);
    return same ? String.format(Locale.ROOT, "mean over %d test images", images) : "mean over each network's images";
  }
}
