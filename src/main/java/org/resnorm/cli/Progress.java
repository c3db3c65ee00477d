package org.resnorm.cli;

import java.util.Locale;
import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;
import org.resnorm.train.Trainer;

/**
 * Training progress of one epoch on the console: a progress bar (step, loss, accuracy, img/s,
 * ETA) on a terminal; without one (a log file, CI) a plain line every {@code logEvery} steps and
 * at the end, with the same figures. {@code logEvery == 0}: silent.
 */
final class Progress implements Trainer.Listener, AutoCloseable {
  private final int epoch;
  private final int epochs;
  private final int logEvery;
  private final long start = System.nanoTime();
  private ProgressBar bar;

  Progress(int epoch, int epochs, int logEvery) {
    this.epoch = epoch;
    this.epochs = epochs;
    this.logEvery = logEvery;
  }

  @Override
  public void step(int ep, int step, int steps, double loss, double accuracy, double imagesPerSecond) {
    if (logEvery <= 0) {
      return;
    }
    String figures = String.format(Locale.ROOT, "loss %.4f  acc %.4f  %.0f img/s", loss, accuracy, imagesPerSecond);
    if (System.console() != null) {
      if (bar == null) {
        bar = new ProgressBarBuilder().setTaskName(String.format("epoch %d/%d", epoch + 1, epochs))
            .setInitialMax(steps).setStyle(ProgressBarStyle.ASCII).setUpdateIntervalMillis(250)
            .setConsumer(new ConsoleProgressBarConsumer(System.out)).build();
      }
      bar.stepTo(step);
      bar.setExtraMessage(" " + figures);
    } else if (step % logEvery == 0 || step == steps) {
      double elapsed = (System.nanoTime() - start) * 1e-9;
      double eta = elapsed / step * (steps - step);
      System.out.printf(Locale.ROOT, "epoch %d/%d step %d/%d  %s  ETA %s%n", epoch + 1, epochs, step, steps, figures,
          clock(eta));
    }
  }

  static String clock(double seconds) {
    long s = Math.round(seconds);
    return s >= 3600 ? String.format("%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60)
        : String.format("%d:%02d", s / 60, s % 60);
  }

  @Override
  public void close() {
    if (bar != null) {
      bar.close();
    }
  }
}
