/**
 * Datasets and batches: readers for Fashion-MNIST / MNIST (IDX, raw or gzip) and CIFAR-10/100
 * (binary), an in-memory {@link org.resnorm.data.Dataset} of normalized NCHW float32 images, the
 * training augmentation ({@link org.resnorm.data.CropFlip}) and a
 * {@link org.resnorm.data.BatchLoader} that shuffles reproducibly and fills batch tensors on a
 * background thread. Bad files raise {@link org.resnorm.data.DatasetException} naming the file.
 */
package org.resnorm.data;
