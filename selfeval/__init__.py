"""selfeval: scanned 财政项目支出绩效自评表 in, verified JSON records out."""

__version__ = "0.1.0"
