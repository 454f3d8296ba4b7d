#!/usr/bin/env python3
"""Writes the Windows PowerShell 5.1 variant of a Search-UnifiedAuditLog Export-Csv sample:
UTF-16LE with BOM (`Export-Csv -Encoding Unicode`, or `ConvertTo-Csv > file.csv`) and the
`#TYPE` line 5.1 writes unless given -NoTypeInformation (PowerShell 7 omits it).

usage: make_utf16_sample.py search_unifiedauditlog_exportcsv_ps7.csv search_unifiedauditlog_exportcsv_utf16.csv
"""
import sys

src, dst = sys.argv[1], sys.argv[2]
text = open(src, encoding="utf-8", newline="").read()
if not text.startswith("#TYPE"):
    text = "#TYPE Deserialized.Microsoft.Exchange.Management.SystemConfigurationTasks.AuditRecord\r\n" + text
with open(dst, "wb") as f:
    f.write(b"\xff\xfe" + text.encode("utf-16-le"))
