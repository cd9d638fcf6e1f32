"""hw3lab: an interactive lab for the VAE, DCGAN, DANN and ADDA of a DLCV homework."""
