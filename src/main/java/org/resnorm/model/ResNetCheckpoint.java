package org.resnorm.model;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.google.gson.JsonSyntaxException;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.resnorm.core.Tensor;
import org.resnorm.io.SafeTensors;
import org.resnorm.io.SafeTensorsFile;
import org.resnorm.io.TensorData;
import org.resnorm.ops.Act;

/**
 * A {@link ResNet} to and from a safetensors checkpoint in docs/CHECKPOINTS.md's layout:
 * torchvision names, {@code weight_g} as {@code [K, 1, 1, 1]}, {@code num_batches_tracked},
 * the SGD momentum buffers as {@code momentum_buffer.<name>}, and string metadata
 * ({@code format}, {@code config}, ...). Writing is atomic and refuses NaN/Inf, so a diverged
 * run never replaces a good checkpoint; loading is strict (every expected tensor present, no
 * unknown ones, shapes checked), so a mismatched architecture fails at once, naming the tensor.
 */
public final class ResNetCheckpoint {
  /** The {@code format} metadata this version writes and reads. */
  public static final String FORMAT = "resnorm/1";
  public static final String MOMENTUM_PREFIX = "momentum_buffer.";
  private static final String TRACKED = ".num_batches_tracked";

  private ResNetCheckpoint() {}

  /**
   * Writes the network's parameters and BatchNorm buffers, {@code <bn>.num_batches_tracked} =
   * {@code steps}, its momentum buffers (once a step was taken) and {@code metadata} (plus
   * {@code format}) to {@code file}, atomically.
   */
  public static void write(ResNet net, Path file, long steps, Map<String, String> metadata) throws IOException {
    SafeTensors.Writer w = SafeTensors.writer().rejectNonFinite(true);
    for (Map.Entry<String, Tensor> e : net.parameters().all().entrySet()) {
      String name = e.getKey();
      w.add(name, stored(name, e.getValue()));
      if (name.endsWith(".running_var")) {
        w.add(name.substring(0, name.length() - ".running_var".length()) + TRACKED, TensorData.scalar(steps));
      }
    }
    if (net.stepsTaken()) {
      for (Map.Entry<String, Tensor> e : net.momentumBuffers().all().entrySet()) {
        w.add(MOMENTUM_PREFIX + e.getKey(), stored(e.getKey(), e.getValue()));
      }
    }
    Map<String, String> meta = new LinkedHashMap<>();
    meta.put("format", FORMAT);
    meta.putAll(metadata);
    w.metadata(meta).write(file);
  }

  /**
   * Tensor {@code name} as a checkpoint stores it: the gamma of a weight-normalized conv
   * ({@code *.weight_g}) in PyTorch's [K, 1, 1, 1], everything else as it is.
   */
  public static TensorData stored(String name, Tensor t) {
    return name.endsWith(".weight_g") ? TensorData.ofFloats(t.toFloatArray(), t.dim(0), 1, 1, 1) : TensorData.of(t);
  }

  /**
   * Loads every parameter and buffer of {@code net} from {@code f}; with {@code withOptimizer}
   * also the momentum buffers (all or none: none means the next step is the first). Unknown
   * tensors are an error, except {@code num_batches_tracked} and, without {@code withOptimizer},
   * the optimizer's entries. Returns whether momentum buffers were loaded.
   */
  public static boolean load(ResNet net, SafeTensorsFile f, boolean withOptimizer) throws IOException {
    checkFormat(f);
    Map<String, Tensor> params = net.parameters().all();
    Map<String, Tensor> momentum = net.momentumBuffers().all();
    for (String name : f.names()) {
      boolean known = params.containsKey(name) || name.endsWith(TRACKED)
          || (name.startsWith(MOMENTUM_PREFIX) && (!withOptimizer
              || momentum.containsKey(name.substring(MOMENTUM_PREFIX.length()))));
      if (!known) {
        throw new IllegalArgumentException(f.file() + ": unexpected tensor '" + name + "' for " + net.spec().config()
            + " (a different architecture, normalization or activation?)");
      }
    }
    for (Map.Entry<String, Tensor> e : params.entrySet()) {
      copy(f, e.getKey(), e.getKey(), e.getValue());
    }
    if (!withOptimizer) {
      return false;
    }
    int present = 0;
    for (String name : momentum.keySet()) {
      present += f.contains(MOMENTUM_PREFIX + name) ? 1 : 0;
    }
    if (present == 0) {
      net.restoreStepsTaken(false);
      return false;
    }
    if (present != momentum.size()) {
      throw new IllegalArgumentException(f.file() + ": has momentum buffers for " + present + " of the "
          + momentum.size() + " learned parameters: a training checkpoint holds all or none");
    }
    for (Map.Entry<String, Tensor> e : momentum.entrySet()) {
      copy(f, MOMENTUM_PREFIX + e.getKey(), e.getKey(), e.getValue());
    }
    net.restoreStepsTaken(true);
    return true;
  }

  private static void copy(SafeTensorsFile f, String fileName, String paramName, Tensor dst) throws IOException {
    if (!f.contains(fileName)) {
      throw new IllegalArgumentException(f.file() + ": tensor '" + fileName + "' is missing");
    }
    if (paramName.endsWith(".weight_g") && f.shape(fileName).length == 4) {
      try (Tensor v = dst.view(dst.dim(0), 1, 1, 1)) {
        f.copyInto(fileName, v);
      }
    } else {
      f.copyInto(fileName, dst);
    }
  }

  private static void checkFormat(SafeTensorsFile f) {
    String format = f.metadata().get("format");
    if (format != null && !format.equals(FORMAT)) {
      throw new IllegalArgumentException(f.file() + ": checkpoint format '" + format + "'; this resnorm reads "
          + FORMAT);
    }
  }

  /**
   * The model a checkpoint written by {@code train} holds: architecture, depth, widths,
   * normalization, activation and shortcut from its {@code config} metadata, input channels and
   * classes from the stem's and the classifier's weight shapes.
   */
  public static ResNetConfig config(SafeTensorsFile f) {
    checkFormat(f);
    String json = f.metadata().get("config");
    if (json == null) {
      throw new IllegalArgumentException(f.file() + ": no 'config' metadata: not a checkpoint written by resnorm "
          + "train (give the model flags explicitly)");
    }
    JsonObject c;
    try {
      c = JsonParser.parseString(json).getAsJsonObject();
    } catch (JsonSyntaxException | IllegalStateException e) {
      throw new IllegalArgumentException(f.file() + ": the 'config' metadata is not a JSON object: " + e.getMessage());
    }
    String arch = string(f, c, "arch");
    int depth = number(f, c, "depth");
    int[] widths = widths(f, c.get("widths"));
    Norm norm = Norm.parse(string(f, c, "norm"));
    Act act = Act.parse(string(f, c, "act"));
    Shortcut shortcut = Shortcut.parse(string(f, c, "shortcut"));
    String stem = f.contains("conv1.weight") ? "conv1.weight" : "conv1.weight_v";
    if (!f.contains(stem) || !f.contains("fc.weight")) {
      throw new IllegalArgumentException(f.file() + ": no conv1 or fc.weight tensor: not a ResNet checkpoint");
    }
    return new ResNetConfig(ResNetConfig.Arch.parse(arch), depth, widths, norm, act,
        shortcut, Math.toIntExact(f.shape(stem)[1]), Math.toIntExact(f.shape("fc.weight")[0]));
  }

  private static String string(SafeTensorsFile f, JsonObject c, String key) {
    JsonElement e = c.get(key);
    if (e == null || !e.isJsonPrimitive()) {
      throw new IllegalArgumentException(f.file() + ": the 'config' metadata has no '" + key + "'");
    }
    return e.getAsString();
  }

  private static int number(SafeTensorsFile f, JsonObject c, String key) {
    try {
      return Integer.parseInt(string(f, c, key));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(f.file() + ": config '" + key + "' is not an integer");
    }
  }

  private static int[] widths(SafeTensorsFile f, JsonElement e) {
    try {
      if (e != null && e.isJsonArray()) {
        int[] w = new int[e.getAsJsonArray().size()];
        for (int i = 0; i < w.length; i++) {
          w[i] = e.getAsJsonArray().get(i).getAsInt();
        }
        return w;
      }
      // "[16, 32, 64]" as written by the first version of train
      String s = e == null ? "" : e.getAsString().replaceAll("[\\[\\] ]", "");
      return java.util.Arrays.stream(s.split(",")).mapToInt(Integer::parseInt).toArray();
    } catch (RuntimeException ex) {
      throw new IllegalArgumentException(f.file() + ": config 'widths' is not a list of integers");
    }
  }
}
