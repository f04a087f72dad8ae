using System.Text;

namespace MLNet.FastAi.Data.Sources;

/// <summary>A small RFC 4180 CSV reader: quoted fields with commas, doubled quotes and line breaks.</summary>
internal static class CsvTable
{
    public static List<string[]> Read(string path, char delimiter = ',')
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"CSV file '{path}' not found.", path);
        var rows = new List<string[]>();
        var field = new StringBuilder();
        var row = new List<string>();
        bool quoted = false, fieldStarted = false;
        int line = 1;
        string text = File.ReadAllText(path);
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (quoted)
            {
                if (c == '"' && i + 1 < text.Length && text[i + 1] == '"') { field.Append('"'); i++; }
                else if (c == '"') quoted = false;
                else { if (c == '\n') line++; field.Append(c); }
                continue;
            }
            if (c == '"' && field.Length == 0 && !fieldStarted) { quoted = true; fieldStarted = true; }
            else if (c == delimiter) { row.Add(field.ToString()); field.Clear(); fieldStarted = false; }
            else if (c == '\r') { }
            else if (c == '\n')
            {
                row.Add(field.ToString()); field.Clear(); fieldStarted = false;
                if (row.Count > 1 || row[0].Length > 0) rows.Add(row.ToArray());
                row.Clear();
                line++;
            }
            else { field.Append(c); fieldStarted = true; }
        }
        if (quoted) throw new InvalidDataException($"CSV file '{path}': a quoted field opened before line {line} is never closed.");
        if (field.Length > 0 || row.Count > 0)
        {
            row.Add(field.ToString());
            rows.Add(row.ToArray());
        }
        return rows;
    }
}
