package org.resnorm.cli;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.resnorm.core.Engine;
import org.resnorm.data.BatchLoader;
import org.resnorm.data.BatchSource;
import org.resnorm.data.Dataset;
import org.resnorm.data.ImageFolder;
import org.resnorm.data.ImageFolderLoader;
import org.resnorm.data.ImageNetTransform;
import org.resnorm.data.Split;
import org.resnorm.io.SafeTensors;
import org.resnorm.io.SafeTensorsFile;
import org.resnorm.model.ResNet;
import org.resnorm.model.ResNetCheckpoint;
import org.resnorm.model.ResNetConfig;
import org.resnorm.train.Trainer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code eval}: test loss and top-1 (top-5 where there are more than 10 classes) of a checkpoint
 * written by {@code train}, in eval mode (BatchNorm running statistics). The model comes from
 * the checkpoint's {@code config} metadata and tensor shapes; loading is strict.
 */
@Command(name = "eval", mixinStandardHelpOptions = true,
    description = "Evaluate a checkpoint on a test set: loss, top-1 and top-5 accuracy.")
final class EvalCommand implements Callable<Integer> {
  @Option(names = "--checkpoint", required = true, description = "A checkpoint.safetensors written by train.")
  Path checkpoint;

  @Option(names = "--dataset", description = "fashion-mnist (default), cifar10, cifar100 or imagenet (a folder with "
      + "val/<class>/*.JPEG; --split train reads train/).")
  String dataset = "fashion-mnist";

  @Option(names = "--data", description = "Dataset folder (default for fashion-mnist: /usr/share/datasets/fashion-mnist).")
  Path data;

  @Option(names = "--split", description = "test (default) or train.")
  String split = "test";

  @Option(names = "--batch", description = "Batch size (default ${DEFAULT-VALUE}).")
  int batch = 128;

  @Mixin DeviceOptions devices;

  @Option(names = "--threads", description = "Engine threads (default: all CPUs).")
  Integer threads;

  @Option(names = "--limit", description = "Use only the first N examples (in-memory datasets).")
  int limit = -1;

  @Option(names = "--ten-crop", description = "Image folders: average the softmax of 10 crops (corners, centre, flips).")
  boolean tenCrop;

  @Option(names = "--crop", description = "Image folders: crop size (default ${DEFAULT-VALUE}).")
  int crop = 224;

  @Option(names = "--resize", description = "Image folders: shorter-side resize (default ${DEFAULT-VALUE}).")
  int resize = 256;

  @Override
  public Integer call() throws IOException {
    devices.require();
    if (batch < 1) {
      throw new IllegalArgumentException("--batch must be >= 1");
    }
    Split which = switch (split.toLowerCase(Locale.ROOT)) {
      case "test" -> Split.TEST;
      case "train" -> Split.TRAIN;
      default -> throw new IllegalArgumentException("unknown --split '" + split + "': expected test or train");
    };
    try (SafeTensorsFile f = SafeTensors.read(checkpoint)) {
      ResNetConfig config = ResNetCheckpoint.config(f);
      String name;
      int channels;
      int size;
      int classes;
      java.util.function.IntFunction<BatchSource> source;
      int crops = 1;
      if (dataset.equalsIgnoreCase("imagenet")) {
        if (data == null) {
          throw new IllegalArgumentException("--data is required for imagenet");
        }
        ImageFolder folder = ImageFolder.open(data);
        ImageNetTransform t = ImageNetTransform.of(crop, resize);
        crops = tenCrop ? 10 : 1;
        ImageFolderLoader.Mode mode = tenCrop ? ImageFolderLoader.Mode.TEN_CROP : ImageFolderLoader.Mode.CENTER_CROP;
        name = "image folder " + folder.dir(which);
        channels = 3;
        size = crop;
        classes = folder.numClasses();
        source = b -> ImageFolderLoader.builder(folder, which).batchSize(b).transform(t).mode(mode).shuffle(false)
            .dropLast(false).epochs(1).build();
      } else {
        if (tenCrop) {
          throw new IllegalArgumentException("--ten-crop is for image folders (--dataset imagenet)");
        }
        Dataset test = Datasets.load(dataset, data, which, limit);
        name = test.name();
        channels = test.channels();
        size = test.height();
        classes = test.numClasses();
        source = b -> BatchLoader.builder(test).batchSize(b).shuffle(false).dropLast(false).epochs(1).build();
      }
      if (channels != config.inChannels() || classes != config.classes()) {
        throw new IllegalArgumentException(checkpoint + " holds a model for " + config.inChannels() + " channels and "
            + config.classes() + " classes; " + name + " has " + channels + " and " + classes);
      }
      int examples = Math.max(batch, 2);
      try (Engine engine = devices.engine(threads);
          ResNet net = ResNet.create(engine, config, examples * crops, size, size, 0);
          BatchSource src = source.apply(examples)) {
        ResNetCheckpoint.load(net, f, false);
        System.out.printf("model: %s (epoch %s of its run)%n", config, f.metadata().getOrDefault("epoch", "?"));
        long t0 = System.nanoTime();
        Trainer.EvalStats r = Trainer.evaluate(engine, net, src);
        double seconds = (System.nanoTime() - t0) * 1e-9;
        System.out.printf(Locale.ROOT, "%s: %d images%s  loss %.4f  top-1 accuracy %.4f (error %.2f%%)%s  %.0f img/s%n",
            name, r.images(), crops > 1 ? " x 10 crops" : "", r.loss(), r.top1(), 100 * (1 - r.top1()),
            config.classes() > 10 ? String.format(Locale.ROOT, "  top-5 accuracy %.4f (error %.2f%%)", r.top5(),
                100 * (1 - r.top5())) : "", r.images() / seconds);
      }
    }
    return 0;
  }
}
