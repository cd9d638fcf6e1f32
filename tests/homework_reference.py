"""The homework's own class definitions, written out independently of hw3lab.models, to prove
that a state_dict saved from them loads into hw3lab's models with strict=True."""

from torch import nn


class Conv_Block(nn.Module):
    def __init__(self, cin, cout, k, s, p, act):
        super().__init__()
        self.block = nn.Sequential(nn.Conv2d(cin, cout, k, s, p), nn.BatchNorm2d(cout), act)


class Tran_Block(nn.Module):
    def __init__(self, cin, cout, k, s, p):
        super().__init__()
        self.block = nn.Sequential(nn.ConvTranspose2d(cin, cout, k, s, p), nn.BatchNorm2d(cout),
                                   nn.ReLU(True))


class Linear_Block(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.block = nn.Sequential(nn.Linear(cin, cout), nn.ReLU(True))


class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.encode = nn.Sequential(
            Conv_Block(3, 64, 4, 2, 1, nn.LeakyReLU(0.2, True)),
            Conv_Block(64, 128, 4, 2, 1, nn.LeakyReLU(0.2, True)),
            Conv_Block(128, 256, 4, 2, 1, nn.LeakyReLU(0.2, True)),
            Conv_Block(256, 512, 4, 2, 1, nn.LeakyReLU(0.2, True)),
            Conv_Block(512, 1024, 4, 2, 1, nn.LeakyReLU(0.2, True)),
            Conv_Block(1024, 2048, 4, 2, 1, nn.LeakyReLU(0.2, True)),
        )
        self.meanGen = nn.Linear(2048, 128)
        self.logvarGen = nn.Linear(2048, 128)


class Decoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.preprocess = nn.Sequential(nn.Linear(128, 2048), nn.BatchNorm1d(2048), nn.ReLU(True))
        self.decode = nn.Sequential(
            Tran_Block(2048, 1024, 4, 2, 1), Tran_Block(1024, 512, 4, 2, 1),
            Tran_Block(512, 256, 4, 2, 1), Tran_Block(256, 128, 4, 2, 1),
            Tran_Block(128, 64, 4, 2, 1), nn.ConvTranspose2d(64, 3, 4, 2, 1), nn.Tanh(),
        )


class Generator(nn.Module):
    def __init__(self):
        super().__init__()
        self.decode = nn.Sequential(
            Tran_Block(128, 512, 4, 1, 0), Tran_Block(512, 256, 4, 2, 1),
            Tran_Block(256, 128, 4, 2, 1), Tran_Block(128, 64, 4, 2, 1),
            nn.ConvTranspose2d(64, 3, 4, 2, 1), nn.Tanh(),
        )


class Discriminator(nn.Module):
    def __init__(self):
        super().__init__()
        self.encode = nn.Sequential(
            Conv_Block(3, 64, 4, 2, 1, nn.LeakyReLU(0.2, True)),
            Conv_Block(64, 128, 4, 2, 1, nn.LeakyReLU(0.2, True)),
            Conv_Block(128, 256, 4, 2, 1, nn.LeakyReLU(0.2, True)),
            Conv_Block(256, 512, 4, 2, 1, nn.LeakyReLU(0.2, True)),
            nn.Conv2d(512, 1, 4, 1, 0), nn.Sigmoid(),
        )


class Extractor(nn.Module):
    def __init__(self):
        super().__init__()
        self.extract = nn.Sequential(
            Conv_Block(3, 64, 3, 2, 1, nn.ReLU(True)), Conv_Block(64, 128, 3, 2, 1, nn.ReLU(True)),
            Conv_Block(128, 256, 3, 2, 1, nn.ReLU(True)),
            Conv_Block(256, 512, 3, 2, 1, nn.ReLU(True)), nn.MaxPool2d(2),
        )


class Predictor(nn.Module):
    def __init__(self, outputs=10, head="predict"):
        super().__init__()
        self.preprocess = Linear_Block(512, 1024)
        setattr(self, head, nn.Sequential(
            Linear_Block(1024, 512), Linear_Block(512, 256), Linear_Block(256, 128),
            Linear_Block(128, 64), nn.Linear(64, outputs), nn.LogSoftmax(dim=1),
        ))
