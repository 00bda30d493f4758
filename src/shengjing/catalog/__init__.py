"""The governed catalog of public data resources (数据资源目录): resources, their fields, data elements."""
